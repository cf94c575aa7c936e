# SPDX-License-Identifier: GPL-2.0-or-later
"""What `make install` puts in place, and that the documentation covers it.

Every installed program must have a man page and a bash completion that
name every option its --help (and each subcommand's --help) lists.
"""
import os
import pathlib
import re
import subprocess

import pytest

from conftest import BUILD, build_sanitizer, run

@pytest.fixture(scope="session")
def stage(tmp_path_factory):
    """The build installed into a staging folder, as packages do it."""
    if os.environ.get("KVM_BIN_DIR"):
        pytest.skip("testing an installed tree; staging needs the build folder")
    dest = tmp_path_factory.mktemp("stage")
    result = run(["meson", "install", "-C", BUILD, "--no-rebuild", "--destdir", dest])
    assert result.returncode == 0, result.stderr
    return dest


def installed_prefix(stage):
    """The prefix the build was configured with, inside the stage."""
    bins = list(stage.glob("**/bin"))
    assert bins, "nothing was installed into a bin folder"
    return bins[0].parent


def programs(stage):
    return sorted(p for p in (installed_prefix(stage) / "bin").iterdir() if os.access(p, os.X_OK))


def roff_text(page):
    """The text of a man page with the roff font and dash escapes removed."""
    text = page.read_text()
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\&", "")


def help_texts(program):
    """The --help of the program and of each subcommand it lists, run from
    the stage with the staged libraries."""
    prefix = program.parent.parent
    libdirs = {str(p.parent) for p in prefix.glob("lib*/**/libkvmimage.so.0")}
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(sorted(libdirs)))

    def run(argv):
        return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env)

    main = run([program, "--help"])
    assert main.returncode == 0, main.stderr
    texts = {"": main.stdout}
    section = re.search(r"^Commands:\n((?:  \S.*\n)+)", main.stdout, re.M)
    for line in section.group(1).splitlines() if section else []:
        command = line.split()[0]
        sub = run([program, command, "--help"])
        assert sub.returncode == 0, f"{program.name} {command} --help: {sub.stderr}"
        texts[command] = sub.stdout
    return texts


def options_in(help_text):
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b", help_text))


def test_layout(stage):
    prefix = installed_prefix(stage)
    assert (prefix / "bin" / "kvm-image").is_file()
    assert (prefix / "include" / "kvmimage.h").is_file()
    assert (prefix / "include" / "kvm-error.h").is_file()
    libs = list(prefix.glob("lib*/**/libkvmimage.so.0*"))
    assert libs, "libkvmimage.so.0 is not installed"
    assert list(prefix.glob("lib*/**/pkgconfig/libkvmimage.pc"))
    assert (prefix / "share" / "man" / "man1" / "kvm-image.1").is_file()


def test_every_program_has_a_man_page_naming_its_options(stage):
    prefix = installed_prefix(stage)
    progs = programs(stage)
    assert progs
    for program in progs:
        page = prefix / "share" / "man" / "man1" / f"{program.name}.1"
        assert page.is_file(), f"{program.name} has no man page"
        text = roff_text(page)
        for command, help_text in help_texts(program).items():
            if command:
                assert command in text, f"{program.name}(1) does not describe {command}"
            missing = [o for o in options_in(help_text) if o not in text]
            assert not missing, f"{program.name}(1) lacks {missing} of `{command} --help`"


def test_every_program_has_a_completion_naming_its_long_options(stage):
    prefix = installed_prefix(stage)
    for program in programs(stage):
        completion = prefix / "share" / "bash-completion" / "completions" / program.name
        assert completion.is_file(), f"{program.name} has no bash completion"
        text = completion.read_text()
        for command, help_text in help_texts(program).items():
            missing = [o for o in options_in(help_text)
                       if o.startswith("--") and o not in text]
            assert not missing, f"the completion of {program.name} lacks {missing} ({command})"


def test_library_can_be_used_from_its_installed_header(stage, tmp_path):
    """A program written against libkvmimage-dev builds with pkg-config
    and converts a disk through the installed library."""
    if build_sanitizer() != "none":
        pytest.skip("a sanitized library cannot be loaded by an unsanitized program")
    prefix = installed_prefix(stage)
    pcdir = next(prefix.glob("lib*/**/pkgconfig"))
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcdir), PKG_CONFIG_SYSROOT_DIR=str(stage))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libkvmimage"], env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    source = tmp_path / "use.c"
    source.write_text(r'''
#include <stdio.h>
#include <kvmimage.h>

int main(int argc, char **argv)
{
	struct kvmi_convert_options opts = { .out.format = "raw" };
	struct kvm_error err = { 0 };
	struct kvmi_image *img;

	if (kvmi_open(argv[1], NULL, &img, &err) < 0 ||
	    kvmi_convert(img, argv[2], &opts, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		return 1;
	}
	printf("%s %llu\n", kvmi_format(img), (unsigned long long)kvmi_virtual_size(img));
	kvmi_close(img);
	return 0;
}
''')
    program = tmp_path / "use"
    build = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-o", program, source, *flags],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"boot" * 1024)
    libdir = next(prefix.glob("lib*/**/libkvmimage.so.0")).parent
    result = subprocess.run([program, disk, tmp_path / "copy.raw"], capture_output=True, text=True,
                            env=dict(os.environ, LD_LIBRARY_PATH=str(libdir)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "raw 4096\n"
    assert (tmp_path / "copy.raw").read_bytes() == disk.read_bytes()
