# windows: Windows 7 to 10 and Windows Server, installed from the vendor's media.
description = Windows with devices its installer knows   # what --list-profiles shows
machine = q35                                  # PCIe chipset, supported from Windows 7 on
firmware = bios                                # SeaBIOS: MBR installs; windows-11 is the UEFI profile
cpu-kvm = host                                 # under KVM the guest sees the host's CPU and all its features
cpu-tcg = max                                  # in software emulation, every feature QEMU can emulate
memory = 4G                                    # what Windows 10 setup wants at least for 64 bits (2G) with room
cpus = 2                                       # --cpus changes it
disk-bus = ahci                                # SATA (AHCI): the installer sees the disk with no extra driver
nic = e1000e                                   # Intel 82574: Windows has the driver in the box
video = VGA                                    # the standard VGA adapter, driven by Windows' basic display driver
usb = qemu-xhci                                # a USB 3 controller for the tablet (Windows 8 and later have its driver)
tablet = yes                                   # absolute pointer, so the mouse follows VNC and GTK without grabbing
rng = no                                       # virtio-rng needs a virtio-win driver; left out so setup sees no unknown device
balloon = no                                   # likewise needs a virtio-win driver
hyperv = yes                                   # Hyper-V enlightenments: Windows runs much faster under KVM with them
tpm = no                                       # Windows 10 does not need a TPM; --tpm gives one
virtio-win = yes                               # attach the virtio-win driver disc when one is installed
