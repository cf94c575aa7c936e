# windows-11: Windows 11 and Server 2022, whose setup checks for UEFI Secure Boot and TPM 2.0.
inherit = windows                              # everything of the windows profile, then:
description = Windows 11 with Secure Boot and TPM 2.0   # what --list-profiles shows
firmware = uefi-secure-boot                    # OVMF with Microsoft's keys enrolled, which Windows' loader is signed with
memory = 4G                                    # Windows 11's minimum
tpm = yes                                      # a TPM 2.0 from swtpm, kept in the guest's state folder between runs
