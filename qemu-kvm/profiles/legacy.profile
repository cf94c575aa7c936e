# legacy: old systems (Windows XP, 2000, DOS, old Linux) that know only a 2000-era PC.
description = Old systems on an i440FX PC with IDE    # what --list-profiles shows
machine = pc                                   # i440FX with PIIX3: the chipset old systems were written for
firmware = bios                                # SeaBIOS, a PC BIOS
cpu-kvm = host                                 # under KVM the guest sees the host's CPU
cpu-tcg = qemu64                               # a plain 64-bit CPU in software emulation
memory = 512M                                  # plenty for what runs here; more confuses some old systems
cpus = 1                                       # some old kernels (non-SMP HALs) boot only on one CPU
disk-bus = ide                                 # PIIX IDE: every old system has its driver
nic = e1000                                    # Intel 82540EM: drivers exist back to Windows 2000 and Linux 2.4
video = VGA                                    # the standard VGA adapter
usb = piix3-usb-uhci                           # USB 1.1, which old systems know
tablet = no                                    # old systems lack HID tablet drivers; PS/2 mouse instead
rng = no                                       # no virtio drivers in old systems
balloon = no                                   # likewise
hyperv = no                                    # Hyper-V enlightenments are for current Windows
tpm = no                                       # no TPM
virtio-win = no                                # virtio-win has no drivers for these
