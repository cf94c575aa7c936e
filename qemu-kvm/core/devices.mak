# SPDX-License-Identifier: GPL-2.0-or-later
#
# The devices of the KVM-only QEMU (kvm-bundle's qemu-kvm core).  QEMU is
# configured --without-default-devices, so nothing is built that is not
# named here or selected by a board below (Kconfig "select").  Modelled on
# RHEL's configs/devices/x86_64-softmmu/x86_64-rh-devices.mak, trimmed to
# what Windows and Linux guests and kvm-run's profiles use.  What is left
# out, and why, is in docs/qemu-kvm.md.
#
# The build copies this file to configs/devices/x86_64-softmmu/kvm-bundle.mak
# and configures --with-devices-x86_64=kvm-bundle.

# Boards.
# Q35: PCIe chipset (ICH9 LPC, AHCI, SMBus), the default machine.
CONFIG_Q35=y
# I440FX: the "pc" machine with PIIX3 IDE, for old systems (legacy profile).
CONFIG_I440FX=y

# Buses and bridges.
# pcie-root-port (hot-plug slots on q35) and pcie-pci-bridge (conventional
# PCI cards behind q35's PCIe): one symbol builds both.
CONFIG_PCIE_PORT=y

# Virtio over PCI: the fast paravirtual devices every Linux kernel drives
# and virtio-win brings to Windows.
CONFIG_VIRTIO_PCI=y
# virtio-blk-pci: disks of the linux profile.
CONFIG_VIRTIO_BLK=y
# virtio-scsi-pci: many disks, discard and SCSI passthrough.
CONFIG_VIRTIO_SCSI=y
# virtio-net-pci: the network card of the linux profile (vhost-net capable).
CONFIG_VIRTIO_NET=y
# virtio-serial: the guest agent channel (qemu-guest-agent).
CONFIG_VIRTIO_SERIAL=y
# virtio-rng-pci: entropy for the guest from the host (rng = yes).
CONFIG_VIRTIO_RNG=y
# virtio-balloon-pci: gives unused guest memory back (balloon = yes).
CONFIG_VIRTIO_BALLOON=y

# Storage.
# ich9-ahci: SATA for Windows installers, which have its driver in the box.
CONFIG_AHCI_ICH9=y

# Network cards with drivers in old and current Windows.
# e1000: Intel 82540EM, back to Windows 2000 (legacy profile).
CONFIG_E1000_PCI=y
# e1000e: Intel 82574 (windows profiles).
CONFIG_E1000E_PCI_EXPRESS=y

# Console and test.
# isa-serial: the serial console kvm-run and the tests use.
CONFIG_SERIAL_ISA=y
# isa-debug-exit: lets a test guest end QEMU with a status.
CONFIG_ISA_DEBUG=y
# pvpanic: the guest reports a kernel panic to the host.
CONFIG_PVPANIC_ISA=y

# Display.
# VGA: the standard VGA adapter (video = VGA), driven by every boot loader,
# kernel and Windows' basic display driver; seen through VNC.
CONFIG_VGA_PCI=y

# USB.
# qemu-xhci: the USB 3 controller of the current profiles.
CONFIG_USB_XHCI_PCI=y
# piix3-usb-uhci: USB 1.1 for old systems (legacy profile).
CONFIG_USB_UHCI=y
# usb-tablet (and usb-kbd, usb-hub) come with CONFIG_USB, which both select.

# TPM, backed by swtpm (tpm = yes, the windows-11 profile).
# tpm-crb: the TPM 2.0 interface on q35.
CONFIG_TPM_CRB=y
# tpm-tis: the TPM interface on i440fx.
CONFIG_TPM_TIS_ISA=y
# The swtpm socket backend.
CONFIG_TPM_EMULATOR=y

# Hyper-V: the SynIC and VMBus bridge behind the hv-* enlightenments that
# make Windows fast under KVM (hyperv = yes).
CONFIG_HYPERV=y
