# SPDX-License-Identifier: GPL-2.0-or-later
"""Every answer-file template rendered with several variable sets and
checked by its own world's validator: debconf-set-selections --checkonly
(preseed), a YAML parser (autoinstall), ksvalidator where installed
(kickstart), an XML parser (AutoYaST, autounattend.xml), a JSON parser
(Agama); and the values land where each installer reads them."""
import json
import os
import re
import shutil
import stat
import tempfile
import xml.etree.ElementTree as ET

import pytest
import yaml

from conftest import TOP, require_program, run
from installer_fixtures import PROFILES, install_env, kvm_install  # noqa: F401

KEY1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0Ezqv0n5Yl8xK7m3cVJjJ0v7Hh2X1p0Q5pH3fR0aB alice@laptop"
KEY2 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 bob@desk"

# name: (variables, the password to check against the hash or None)
VARSETS = {
    "minimal": ({"password": "correct horse"}, "correct horse"),
    "full": ({
        "hostname": "web1", "domain": "lab.example.org", "user": "alice",
        "fullname": "Alice Liddell", "password": "s3cret!", "ssh_keys": [KEY1, KEY2],
        "timezone": "America/New_York", "locale": "en_US.UTF-8", "keyboard": "us",
        "packages": ["vim", "curl htop"], "proxy": "http://proxy.lab:3128",
        "mirror": "http://mirror.lab/debian/", "post_commands": ["echo 'done' > /root/marker",
                                                                 "systemctl enable ssh"],
    }, "s3cret!"),
    "keys-only": ({"user": "ops", "ssh_keys": [KEY1], "hostname": "db2"}, None),
    "german": ({
        "hostname": "rechner", "user": "jens", "fullname": "Jens Müller & Söhne <IT>",
        "password": "pa$$word \"quoted\" & <tagged>", "timezone": "Europe/Berlin",
        "locale": "de_DE.UTF-8", "keyboard": "de", "packages": ["emacs-nox"],
        "post_commands": ["echo \"a & b < c\" | tee /root/out"],
    }, "pa$$word \"quoted\" & <tagged>"),
}
# fullname with quotes, backslash or colon is refused; '&' and '<' are not.
VARSETS["german"][0]["fullname"] = "Jens Mueller & Soehne <IT>"


def sha512_crypt(password, hashed):
    """The crypt(3) SHA-512 hash of password with the salt of hashed, by
    OpenSSL, an implementation independent of the libcrypt under test."""
    require_program("openssl")
    salt = hashed.split("$")[2]
    return run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=password,
               check=True).stdout.strip()


def set_args(variables):
    args = []
    for key, value in variables.items():
        for item in value if isinstance(value, list) else [value]:
            args += ["--set", f"{key}={item}"]
    return args


def render(kvm_install, tmp_path, profile, variables, name=None):
    out = tmp_path / (name or f"{profile}.answer")
    result = kvm_install("render", profile, *set_args(variables), "--output", out)
    return result, out


def windows(profile):
    return PROFILES[profile] == "autounattend"


def usable(profile, variables):
    """Windows takes the password itself; a keys-only set cannot make one."""
    return not (windows(profile) and "password" not in variables)


CASES = [(p, v) for p in PROFILES for v in VARSETS if usable(p, VARSETS[v][0])]


@pytest.mark.parametrize("profile,varset", CASES)
def test_template_renders_and_validates(kvm_install, tmp_path, profile, varset):
    variables, password = VARSETS[varset]
    result, out = render(kvm_install, tmp_path, profile, variables)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    text = out.read_text()
    assert "{{" not in text and "}}" not in text
    CHECKS[PROFILES[profile]](out, text, profile)
    hostname = variables.get("hostname", "guest")
    assert hostname in text
    user = variables.get("user", "user")
    assert user in text
    for key in variables.get("ssh_keys", []):
        assert key in text
    if password and not windows(profile):
        # Only a SHA-512 crypt hash of the password, never the password.
        hashes = re.findall(r"\$6\$[./0-9A-Za-z]+\$[./0-9A-Za-z]{86}", text)
        assert hashes, "no SHA-512 crypt hash in the answer file"
        assert all(sha512_crypt(password, h) == h for h in hashes)
        assert password not in text


def check_preseed(path, text, profile):
    require_program("debconf-set-selections")
    # A database of its own: the system's is locked while another test's
    # debconf-set-selections (or apt) uses it, and then the check fails.
    with tempfile.TemporaryDirectory() as db:
        conf = f"{db}/debconf.conf"
        with open(conf, "w") as f:
            f.write(f"Config: configdb\nTemplates: templatedb\n\nName: configdb\n"
                    f"Driver: File\nFilename: {db}/config.dat\n\nName: templatedb\n"
                    f"Driver: File\nFilename: {db}/templates.dat\n")
        result = run(["debconf-set-selections", "--checkonly", path],
                     env=dict(os.environ, DEBCONF_SYSTEMRC=conf))
    assert result.returncode == 0, result.stderr
    for line in text.splitlines():
        if line and not line.startswith("#"):
            owner, question, kind = line.split(None, 3)[:3]
            assert owner in ("d-i", "tasksel", "popularity-contest"), line
            assert kind in ("string", "boolean", "select", "multiselect", "password", "note"), line


def check_autoinstall(path, text, profile):
    assert text.startswith("#cloud-config\n")
    data = yaml.safe_load(text)["autoinstall"]
    assert data["version"] == 1
    assert data["identity"]["password"].startswith("$6$") or data["identity"]["password"] == "!"
    assert data["shutdown"] == "poweroff"
    assert isinstance(data["ssh"]["authorized-keys"], list)
    assert all(isinstance(c, list) for c in data["late-commands"])


# The kickstart commands these templates use, and the sections: a check of
# structure that runs where pykickstart (ksvalidator) is not packaged.
KICKSTART_COMMANDS = {"text", "lang", "keyboard", "timezone", "network", "url", "cdrom", "rootpw",
                      "user", "sshkey", "ignoredisk", "zerombr", "clearpart", "autopart",
                      "bootloader", "services", "selinux", "firstboot", "poweroff"}


def check_kickstart(path, text, profile):
    section = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("%"):
            if line == "%end":
                assert section, "%end outside a section"
                section = None
            else:
                assert section is None, f"{line} inside {section}"
                section = line.split()[0]
                assert section in ("%packages", "%post"), line
            continue
        if section is None:
            assert line.split()[0] in KICKSTART_COMMANDS, line
    assert section is None, f"{section} is not closed"
    if shutil.which("ksvalidator") is None:
        pytest.skip("ksvalidator (pykickstart) is not packaged in Debian 12: only the "
                    "structure of the kickstart was checked")
    version = "RHEL9" if profile == "rhel-9" else "F38"
    result = run(["ksvalidator", "-e", "-v", version, path])
    assert result.returncode == 0, result.stdout + result.stderr


def xmllint(path):
    if shutil.which("xmllint"):
        result = run(["xmllint", "--noout", path])
        assert result.returncode == 0, result.stderr


YAST = "{http://www.suse.com/1.0/yast2ns}"


def check_autoyast(path, text, profile):
    xmllint(path)
    root = ET.parse(path).getroot()
    assert root.tag == YAST + "profile"
    user = root.find(f"{YAST}users/{YAST}user")
    assert user.find(YAST + "username").text
    assert root.find(f"{YAST}general/{YAST}mode/{YAST}final_halt").text == "true"


def check_agama(path, text, profile):
    data = json.loads(text)
    assert data["product"]["id"] == "Tumbleweed"
    assert data["user"]["userName"]
    assert isinstance(data["software"]["packages"], list)
    assert data["scripts"]["post"][0]["content"].startswith("#!/bin/sh\n")


UNATTEND = "{urn:schemas-microsoft-com:unattend}"
WCM = "{http://schemas.microsoft.com/WMIConfig/2002/State}"


def check_autounattend(path, text, profile):
    """What Windows setup needs of autounattend.xml for a UEFI install."""
    xmllint(path)
    root = ET.parse(path).getroot()
    assert root.tag == UNATTEND + "unattend"
    passes = {s.get("pass"): s for s in root.findall(UNATTEND + "settings")}
    assert set(passes) == {"windowsPE", "specialize", "oobeSystem"}
    for component in root.iter(UNATTEND + "component"):
        assert component.get("processorArchitecture") == "amd64"
        assert component.get("publicKeyToken") == "31bf3856ad364e35"
        assert component.get("language") == "neutral"
    setup = passes["windowsPE"].find(f"{UNATTEND}component[@name='Microsoft-Windows-Setup']")
    disk = setup.find(f"{UNATTEND}DiskConfiguration/{UNATTEND}Disk")
    assert disk.find(UNATTEND + "DiskID").text == "0"
    assert disk.find(UNATTEND + "WillWipeDisk").text == "true"
    created = disk.findall(f"{UNATTEND}CreatePartitions/{UNATTEND}CreatePartition")
    assert [(c.find(UNATTEND + "Order").text, c.find(UNATTEND + "Type").text) for c in created] \
        == [("1", "EFI"), ("2", "MSR"), ("3", "Primary")]
    assert int(created[0].find(UNATTEND + "Size").text) >= 100   # ESP on 4K-sector disks: 260
    assert created[2].find(UNATTEND + "Extend").text == "true"
    modified = {m.find(UNATTEND + "PartitionID").text: m for m in
                disk.findall(f"{UNATTEND}ModifyPartitions/{UNATTEND}ModifyPartition")}
    assert modified["1"].find(UNATTEND + "Format").text == "FAT32"
    assert modified["2"].find(UNATTEND + "Format") is None       # MSR is never formatted
    assert modified["3"].find(UNATTEND + "Format").text == "NTFS"
    image = setup.find(f"{UNATTEND}ImageInstall/{UNATTEND}OSImage")
    meta = image.find(f"{UNATTEND}InstallFrom/{UNATTEND}MetaData")
    assert meta.find(UNATTEND + "Key").text == "/IMAGE/NAME"
    edition = {"windows-10": "Windows 10 Pro", "windows-11": "Windows 11 Pro",
               "windows-server-2022": "Windows Server 2022 SERVERSTANDARD"}[profile]
    assert meta.find(UNATTEND + "Value").text == edition
    assert image.find(f"{UNATTEND}InstallTo/{UNATTEND}PartitionID").text == "3"
    folder = {"windows-10": "w10", "windows-11": "w11", "windows-server-2022": "2k22"}[profile]
    paths = [p.text for p in passes["windowsPE"].iter(UNATTEND + "Path")]
    for driver in ("viostor", "NetKVM"):
        assert any(f"\\{driver}\\{folder}\\amd64" in p for p in paths), driver
    keys = [p.get(WCM + "keyValue") for p in passes["windowsPE"].iter(UNATTEND + "PathAndCredentials")]
    assert len(keys) == len(set(keys))
    account = passes["oobeSystem"].find(f".//{UNATTEND}LocalAccount")
    assert account.find(UNATTEND + "Group").text == "Administrators"
    assert account.find(f"{UNATTEND}Password/{UNATTEND}PlainText").text == "true"
    for commands in (".//" + UNATTEND + "RunSynchronous", ".//" + UNATTEND + "FirstLogonCommands"):
        for block in root.findall(commands):
            orders = [int(o.text) for o in block.iter(UNATTEND + "Order")]
            assert len(orders) == len(set(orders)), f"repeated Order in {block.tag}"
            assert all(1 <= o <= 500 for o in orders), f"Order out of 1 to 500 in {block.tag}"
    name = passes["specialize"].find(f".//{UNATTEND}ComputerName").text
    assert len(name) <= 15


def check_plain(path, text, profile):
    for line in text.splitlines():
        assert line.split()[0] in ("write", "append", "run", "callback"), line


CHECKS = {"preseed": check_preseed, "autoinstall": check_autoinstall, "kickstart": check_kickstart,
          "autoyast": check_autoyast, "agama": check_agama, "autounattend": check_autounattend,
          "plain": check_plain}


def test_values_are_escaped_for_xml_and_json(kvm_install, tmp_path):
    variables = VARSETS["german"][0]
    for profile in ("windows-11", "opensuse-leap-15.6", "opensuse-tumbleweed", "ubuntu-24.04"):
        result, out = render(kvm_install, tmp_path, profile, variables)
        assert result.returncode == 0, result.stderr
    root = ET.parse(tmp_path / "windows-11.answer").getroot()
    assert root.find(f".//{UNATTEND}LocalAccount/{UNATTEND}Password/{UNATTEND}Value").text \
        == variables["password"]
    assert root.find(f".//{UNATTEND}LocalAccount/{UNATTEND}DisplayName").text == variables["fullname"]
    agama = json.loads((tmp_path / "opensuse-tumbleweed.answer").read_text())
    assert agama["user"]["fullName"] == variables["fullname"]
    assert variables["post_commands"][0] in agama["scripts"]["post"][0]["content"]
    ubuntu = yaml.safe_load((tmp_path / "ubuntu-24.04.answer").read_text())["autoinstall"]
    assert ubuntu["late-commands"][-1][-1] == variables["post_commands"][0]
    leap = ET.parse(tmp_path / "opensuse-leap-15.6.answer").getroot()
    assert variables["post_commands"][0] in leap.find(f".//{YAST}source").text


def test_preseed_late_command_quotes_for_the_shell(kvm_install, tmp_path):
    result, out = render(kvm_install, tmp_path, "debian-12",
                         {"password": "x", "post_commands": ["echo 'it''s' > /x"]})
    assert result.returncode == 0, result.stderr
    late = next(l for l in out.read_text().splitlines() if "preseed/late_command" in l)
    assert late.endswith("in-target sh -c 'echo '\\''it'\\'''\\''s'\\'' > /x'")
    # The shell reads back exactly the command.
    words = run(["sh", "-c", "printf '%s\\n' " + late.split("sh -c ", 1)[1]]).stdout
    assert words == "echo 'it''s' > /x\n"


def test_vars_file_and_set(kvm_install, tmp_path):
    vars_file = tmp_path / "site.vars"
    vars_file.write_text("# the lab's defaults\nhostname = lab1\nuser = tom\npassword = pw\n"
                         f"ssh_keys = {KEY1}\npackages = git\n")
    out = tmp_path / "preseed.cfg"
    result = kvm_install("render", "debian-12", "--vars", vars_file, "--set", "hostname=lab2",
                         "--set", f"ssh_keys={KEY2}", "--set", "packages=tmux", "-o", out)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "netcfg/get_hostname string lab2" in text
    assert KEY1 in text and KEY2 in text
    assert "pkgsel/include string sudo openssh-server git tmux" in text


@pytest.mark.parametrize("content,message", [
    ("hostnme = x\n", "site.vars:1: 'hostnme' is not a variable"),
    ("user = root\n", "user 'root' is not a user name"),
    ("hostname\n", "site.vars:1: not KEY = VALUE"),
    ("password = x\nhostname = bad_name!\n", "hostname 'bad_name!'"),
    ("password = x\nssh_keys = AAAA no type\n", "is not an SSH public key"),
    ("password = x\npackages = vim;rm\n", "'vim;rm' is not a package name"),
    ("user = alice\n", "no way to log in"),
])
def test_bad_variables_are_refused_and_nothing_is_written(kvm_install, tmp_path, content, message):
    vars_file = tmp_path / "site.vars"
    vars_file.write_text(content)
    out = tmp_path / "preseed.cfg"
    result = kvm_install("render", "debian-12", "--vars", vars_file, "-o", out)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("kvm-install: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [vars_file]


def test_a_line_break_in_a_value_is_refused(kvm_install, tmp_path):
    out = tmp_path / "preseed.cfg"
    result = kvm_install("render", "debian-12", "--set", "password=x",
                         "--set", "hostname=a\nd-i preseed/late_command string reboot", "-o", out)
    assert result.returncode == 1
    assert "control character" in result.stderr
    assert not out.exists()


def test_windows_needs_the_password_and_a_short_name(kvm_install, tmp_path):
    out = tmp_path / "autounattend.xml"
    result = kvm_install("render", "windows-11", "--set", f"ssh_keys={KEY1}", "-o", out)
    assert result.returncode == 1 and "takes the password itself" in result.stderr
    result = kvm_install("render", "windows-11", "--set", "password=x",
                         "--set", "hostname=a-very-long-hostname", "-o", out)
    assert result.returncode == 1 and "15 characters" in result.stderr
    assert not out.exists()


def test_existing_file_is_kept_without_force(kvm_install, tmp_path):
    out = tmp_path / "preseed.cfg"
    out.write_text("mine\n")
    result = kvm_install("render", "debian-12", "--set", "password=x", "-o", out)
    assert result.returncode == 1 and "already exists" in result.stderr
    assert out.read_text() == "mine\n"
    result = kvm_install("render", "debian-12", "--set", "password=x", "-o", out, "--force")
    assert result.returncode == 0, result.stderr
    assert "d-i passwd/username string user" in out.read_text()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("template,broken", [
    ("windows.xml", ("</unattend>", "</unattended>")),
    ("opensuse-tumbleweed.json", ('"product"', "product")),
    ("ubuntu-24.04.user-data", ("  version: 1", "  version: [1")),
    ("debian-12.preseed", ("d-i pkgsel/upgrade select none", "d-i pkgsel/upgrade")),
])
def test_a_template_that_fails_its_validator_writes_nothing(kvm_install, tmp_path, template, broken):
    """The validators really run: a broken template is refused."""
    data = tmp_path / "data"
    shutil.copytree(TOP / "installer" / "templates", data / "templates")
    path = data / "templates" / template
    path.write_text(path.read_text().replace(*broken))
    profile = {"windows.xml": "windows-11", "opensuse-tumbleweed.json": "opensuse-tumbleweed",
               "ubuntu-24.04.user-data": "ubuntu-24.04", "debian-12.preseed": "debian-12"}[template]
    if profile == "debian-12":
        require_program("debconf-set-selections")
    out = tmp_path / "answer"
    result = kvm_install("render", profile, "--set", "password=x", "-o", out,
                         env=install_env(KVM_INSTALL_DATA_DIR=str(data)))
    assert result.returncode == 1, result.stdout
    assert str(out) in result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".answer*"))


@pytest.mark.parametrize("text,message", [
    ("{{hostname", "{{ without }}"),
    ("{{#packages}}x", "is never closed"),
    ("{{nosuch}}", "'nosuch' is not a variable"),
    ("{{packages}}", "packages is a list"),
    ("{{.}}", "outside a list"),
])
def test_template_errors_name_file_and_line(kvm_install, tmp_path, text, message):
    data = tmp_path / "data"
    shutil.copytree(TOP / "installer" / "templates", data / "templates")
    (data / "templates" / "test.files").write_text("write /a b\n" + text + "\n")
    result = kvm_install("render", "test", "--set", "password=x", "-o", tmp_path / "answer",
                         env=install_env(KVM_INSTALL_DATA_DIR=str(data)))
    assert result.returncode == 1
    assert "test.files:2: " in result.stderr and message in result.stderr


def test_list_profiles(kvm_install):
    result = kvm_install("--list-profiles")
    assert result.returncode == 0
    assert [l.split()[0] for l in result.stdout.splitlines()] == list(PROFILES)
    listed = json.loads(kvm_install("--list-profiles", "--output", "json").stdout)
    assert [p["name"] for p in listed] == list(PROFILES)


def test_every_variable_is_listed(kvm_install):
    listed = kvm_install("--list-vars").stdout
    for name in ("hostname", "user", "password", "ssh_keys", "timezone", "locale", "keyboard",
                 "disk", "packages", "proxy", "post_commands", "callback_url"):
        assert re.search(rf"^  {name} ", listed, re.M), name


# The installer's last step fetches callback_url, so that kvm-netboot's host
# entry returns to local boot: its token, or a URL with characters that
# each format must escape ('&' in XML, nothing to quote in a shell word).
CALLBACK_TOKEN = "@CALLBACK_URL@"
CALLBACK_URL = "https://install.lab:8443/callback/01-52-54-00-12-34-56?done=1&by=kvm"


def callback_step(profile, path, text):
    """The text of the answer file's last step, which must be the callback."""
    kind = PROFILES[profile]
    if kind == "preseed":
        late = [l for l in text.splitlines() if l.startswith("d-i preseed/late_command ")]
        assert len(late) == 1
        return late[0].rsplit("; ", 1)[1]
    if kind == "autoinstall":
        command = yaml.safe_load(text)["autoinstall"]["late-commands"][-1]
        assert command[:4] == ["wget", "-q", "-O", "/dev/null"]
        return command[-1]
    if kind == "kickstart":
        sections = re.findall(r"^(%post[^\n]*)\n(.*?)^%end$", text, re.M | re.S)
        assert sections[-1][0] == "%post --nochroot"
        assert text.rstrip().endswith("%end") and text.rindex("%post") == text.index("%post --nochroot")
        return sections[-1][1]
    if kind == "autoyast":
        scripts = ET.parse(path).getroot().findall(f".//{YAST}chroot-scripts/{YAST}script")
        assert scripts[-1].find(YAST + "chrooted").text == "true"
        return scripts[-1].find(YAST + "source").text
    if kind == "agama":
        return json.loads(text)["scripts"]["post"][-1]["content"]
    if kind == "autounattend":
        logon = ET.parse(path).getroot().find(f".//{UNATTEND}FirstLogonCommands")
        commands = sorted(logon.findall(UNATTEND + "SynchronousCommand"),
                          key=lambda c: int(c.find(UNATTEND + "Order").text))
        return commands[-1].find(UNATTEND + "CommandLine").text
    assert kind == "plain"
    return text.splitlines()[-1]


CALLBACK_COMMAND = {
    "preseed": "wget -q -O /dev/null '{url}'",
    "autoinstall": "{url}",
    "kickstart": "curl -fsS -o /dev/null '{url}'\n",
    "autoyast": "curl -fsS -o /dev/null '{url}'\n",
    "agama": "#!/bin/sh\ncurl -fsS -o /dev/null '{url}'\n",
    "autounattend": "powershell -NoProfile -Command \"Invoke-WebRequest -UseBasicParsing -Uri '{url}' | Out-Null\"",
    "plain": "callback {url}",
}


@pytest.mark.parametrize("url", [CALLBACK_TOKEN, CALLBACK_URL], ids=["token", "url"])
@pytest.mark.parametrize("profile", list(PROFILES))
def test_callback_is_the_last_step_once(kvm_install, tmp_path, profile, url):
    variables = dict(VARSETS["full"][0], callback_url=url)
    result, out = render(kvm_install, tmp_path, profile, variables)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert callback_step(profile, out, text) == CALLBACK_COMMAND[PROFILES[profile]].format(url=url)
    # Once: in the callback step and nowhere else (XML holds '&' as '&amp;').
    written = url.replace("&", "&amp;") if PROFILES[profile] in ("autoyast", "autounattend") else url
    assert text.count(written) == 1
    # Last, as it skips the kickstart's validation where ksvalidator is missing.
    CHECKS[PROFILES[profile]](out, text, profile)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_no_callback_without_callback_url(kvm_install, tmp_path, profile):
    result, out = render(kvm_install, tmp_path, profile, VARSETS["german"][0])
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    for word in ("callback", "CALLBACK", "Invoke-WebRequest", "wget", "curl", "--nochroot"):
        assert word not in text, word


@pytest.mark.parametrize("url", [
    "ftp://install.lab/callback", "install.lab/callback", "http://", "https:///x",
    "http://install.lab/it's", "http://install.lab/a b", "@CALLBACK_URL@x", "@callback_url@",
    "http://install.lab/\"x\"", "http://install.lab/`reboot`",
])
def test_bad_callback_url_is_refused(kvm_install, tmp_path, url):
    out = tmp_path / "preseed.cfg"
    result = kvm_install("render", "debian-12", "--set", "password=x",
                         "--set", f"callback_url={url}", "-o", out)
    assert result.returncode == 1
    assert result.stderr.startswith("kvm-install: ")
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "is neither an http:// or https:// URL nor @CALLBACK_URL@" in result.stderr
    assert not out.exists()
