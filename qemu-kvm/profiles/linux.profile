# linux: a current Linux distribution (kernel 4.x or later).
description = Linux with virtio devices        # what --list-profiles shows
machine = q35                                  # PCIe chipset; every current kernel knows it
firmware = bios                                # SeaBIOS boots BIOS and hybrid images; --uefi for UEFI-only ones
cpu-kvm = host                                 # under KVM the guest sees the host's CPU and all its features
cpu-tcg = max                                  # in software emulation, every feature QEMU can emulate
memory = 2G                                    # enough for a desktop installer; --memory changes it
cpus = 2                                       # --cpus changes it
disk-bus = virtio                              # virtio-blk: the fastest disk, driver in every distribution kernel
nic = virtio-net-pci                           # virtio network, likewise in every kernel
video = VGA                                    # the standard VGA adapter, which every boot loader and kernel drives
usb = qemu-xhci                                # a USB 3 controller for the tablet
tablet = yes                                   # absolute pointer, so the mouse follows VNC and GTK without grabbing
rng = yes                                      # virtio-rng feeds the guest's entropy pool from the host's
balloon = yes                                  # virtio-balloon gives unused guest memory back to the host
hyperv = no                                    # Hyper-V enlightenments are for Windows
tpm = no                                       # no TPM unless --tpm
virtio-win = no                                # the Windows driver disc is of no use here
