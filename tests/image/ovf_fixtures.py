# SPDX-License-Identifier: GPL-2.0-or-later
"""Builders of VMware exports for the import tests: OVF descriptors in the
shape vSphere writes them (OVF 1.0 and 2.0), manifests, OVAs (ustar, OVF
first, as VMware orders them) and VMX folders.  Disks are made by
qemu-img as streamOptimized VMDK from raw files of a known pattern."""
import hashlib
import io
import pathlib
import subprocess
import tarfile

OVF_NS = {
    "1.0": "http://schemas.dmtf.org/ovf/envelope/1",
    "2.0": "http://schemas.dmtf.org/ovf/envelope/2",
}


def run(argv):
    subprocess.run([str(a) for a in argv], check=True, capture_output=True)


def make_raw(path, size, seed):
    """A raw disk of SIZE bytes with a few distinct 64 KiB blocks of data
    (the rest holes), so a mix-up of disks or offsets shows."""
    with open(path, "wb") as f:
        f.truncate(size)
        for i, offset in enumerate((0, size // 3, size - 65536)):
            f.seek(offset)
            f.write(bytes([(seed * 31 + i * 7 + j) % 251 for j in range(256)]) * 256)
    return path


def make_stream_vmdk(directory, name, size, seed):
    raw = make_raw(pathlib.Path(directory) / (name + ".raw"), size, seed)
    vmdk = pathlib.Path(directory) / (name + ".vmdk")
    run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
         raw, vmdk])
    return raw, vmdk


def ovf_descriptor(name, disks, version="1.0", efi=False, secure_boot=False,
                   os_type="debian11_64Guest", os_id=96, os_text="Debian GNU/Linux 11 (64-bit)",
                   cpus=2, memory_mib=2048, capacities=None, nic="VmxNet3"):
    """DISKS: list of (href, file size).  CAPACITIES: the declared size of
    each, as (number, units)."""
    ns = OVF_NS[version]
    files = "\n".join(
        f'    <File ovf:href="{href}" ovf:id="file{i + 1}" ovf:size="{size}"/>'
        for i, (href, size) in enumerate(disks))
    capacities = capacities or [("1", "byte * 2^20")] * len(disks)
    disk_lines = "\n".join(
        f'    <Disk ovf:capacity="{cap}" ovf:capacityAllocationUnits="{units}" '
        f'ovf:diskId="vmdisk{i + 1}" ovf:fileRef="file{i + 1}" '
        f'ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>'
        for i, (cap, units) in enumerate(capacities))
    disk_items = "\n".join(f"""      <Item>
        <rasd:AddressOnParent>{i}</rasd:AddressOnParent>
        <rasd:ElementName>Hard disk {i + 1}</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk{i + 1}</rasd:HostResource>
        <rasd:InstanceID>{10 + i}</rasd:InstanceID>
        <rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>""" for i in range(len(disks)))
    firmware = ""
    if efi:
        firmware = '      <vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>\n'
        firmware += ('      <vmw:Config ovf:required="false" vmw:key="bootOptions.efiSecureBootEnabled" '
                     f'vmw:value="{"true" if secure_boot else "false"}"/>\n')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope vmw:buildId="build-19234570" xmlns="{ns}" xmlns:cim="http://schemas.dmtf.org/wbem/wscim/1/common" xmlns:ovf="{ns}" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
{files}
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
{disk_lines}
  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
    <Network ovf:name="VM Network"><Description>The VM Network network</Description></Network>
  </NetworkSection>
  <VirtualSystem ovf:id="{name}">
    <Info>A virtual machine</Info>
    <Name>{name}</Name>
    <OperatingSystemSection ovf:id="{os_id}" vmw:osType="{os_type}">
      <Info>The kind of installed guest operating system</Info>
      <Description>{os_text}</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>{name}</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:Description>Number of Virtual CPUs</rasd:Description>
        <rasd:ElementName>{cpus} virtual CPU(s)</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>{cpus}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:Description>Memory Size</rasd:Description>
        <rasd:ElementName>{memory_mib}MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>{memory_mib}</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SCSI Controller</rasd:Description>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:Address>0</rasd:Address>
        <rasd:Description>SATA Controller</rasd:Description>
        <rasd:ElementName>SATA controller 0</rasd:ElementName>
        <rasd:InstanceID>4</rasd:InstanceID>
        <rasd:ResourceSubType>vmware.sata.ahci</rasd:ResourceSubType>
        <rasd:ResourceType>20</rasd:ResourceType>
      </Item>
{disk_items}
      <Item ovf:required="false">
        <rasd:AddressOnParent>0</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>false</rasd:AutomaticAllocation>
        <rasd:ElementName>CD/DVD drive 1</rasd:ElementName>
        <rasd:InstanceID>20</rasd:InstanceID>
        <rasd:Parent>4</rasd:Parent>
        <rasd:ResourceSubType>vmware.cdrom.remotepassthrough</rasd:ResourceSubType>
        <rasd:ResourceType>15</rasd:ResourceType>
      </Item>
      <Item>
        <rasd:AddressOnParent>7</rasd:AddressOnParent>
        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>
        <rasd:Connection>VM Network</rasd:Connection>
        <rasd:Description>VmxNet3 ethernet adapter on &quot;VM Network&quot;</rasd:Description>
        <rasd:ElementName>Network adapter 1</rasd:ElementName>
        <rasd:InstanceID>21</rasd:InstanceID>
        <rasd:ResourceSubType>{nic}</rasd:ResourceSubType>
        <rasd:ResourceType>10</rasd:ResourceType>
      </Item>
      <Item ovf:required="false">
        <rasd:AutomaticAllocation>false</rasd:AutomaticAllocation>
        <rasd:ElementName>Video card</rasd:ElementName>
        <rasd:InstanceID>22</rasd:InstanceID>
        <rasd:ResourceType>24</rasd:ResourceType>
      </Item>
      <vmw:Config ovf:required="false" vmw:key="cpuHotAddEnabled" vmw:value="false"/>
{firmware}      <vmw:Config ovf:required="false" vmw:key="tools.syncTimeWithHost" vmw:value="false"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def manifest(named_files, algo="SHA256"):
    """NAMED_FILES: list of (name, bytes or path)."""
    lines = []
    for name, content in named_files:
        data = content if isinstance(content, bytes) else pathlib.Path(content).read_bytes()
        digest = hashlib.new(algo.lower(), data).hexdigest()
        lines.append(f"{algo}({name})= {digest}\n")
    return "".join(lines).encode()


def make_ova(path, members):
    """MEMBERS: list of (name, bytes or path), in order; ustar like vSphere."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in members:
            data = content if isinstance(content, bytes) else pathlib.Path(content).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def make_appliance(directory, name, n_disks=1, version="1.0", algo="SHA256", efi=False,
                   secure_boot=False, size=8 << 20, hrefs=None, **ovf_args):
    """An OVF with its disks and manifest in DIRECTORY; returns the raw
    disks (the expected content), the OVF path and the member list (for
    make_ova)."""
    directory = pathlib.Path(directory)
    raws, disks = [], []
    hrefs = hrefs or [f"{name}-disk{i + 1}.vmdk" for i in range(n_disks)]
    for i, href in enumerate(hrefs):
        (directory / href).parent.mkdir(parents=True, exist_ok=True)
        raw, vmdk = make_stream_vmdk(directory / pathlib.Path(href).parent,
                                     pathlib.Path(href).stem, size, seed=i + 1)
        raws.append(raw)
        disks.append((href, vmdk))
    ovf = ovf_descriptor(name, [(h, v.stat().st_size) for h, v in disks], version=version,
                         efi=efi, secure_boot=secure_boot,
                         capacities=[(str(size >> 20), "byte * 2^20")] * len(disks),
                         **ovf_args).encode()
    (directory / f"{name}.ovf").write_bytes(ovf)
    members = [(f"{name}.ovf", ovf)] + [(h, v) for h, v in disks]
    mf = manifest(members, algo)
    (directory / f"{name}.mf").write_bytes(mf)
    members.insert(1, (f"{name}.mf", mf))
    return raws, directory / f"{name}.ovf", members
