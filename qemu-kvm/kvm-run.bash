# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for kvm-run (and qemu-kvm, where the package links it)

_kvm_run()
{
	local cur prev words cword
	_init_completion -s || return

	case $prev in
	--profile)
		local names
		names=$("$1" --list-profiles 2>/dev/null | cut -d' ' -f1)
		COMPREPLY=($(compgen -W "$names" -- "$cur"))
		return
		;;
	--disk)
		_filedir '@(img|raw|qcow2|vmdk)'
		return
		;;
	--cdrom | --virtio-win)
		_filedir iso
		return
		;;
	--net)
		COMPREPLY=($(compgen -W "user none bridge= tap=" -- "$cur"))
		[[ ${COMPREPLY-} == *= ]] && compopt -o nospace
		return
		;;
	--console)
		COMPREPLY=($(compgen -W "serial vnc gtk" -- "$cur"))
		return
		;;
	--accel)
		COMPREPLY=($(compgen -W "kvm tcg" -- "$cur"))
		return
		;;
	--memory | --cpus | --mac | --name)
		return
		;;
	esac

	# After --, the words are QEMU's.
	local i
	for ((i = 1; i < cword; i++)); do
		[[ ${words[i]} == -- ]] && return
	done

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--profile --list-profiles --disk --cdrom --virtio-win
			--memory --cpus --net --mac --uefi --secure-boot --tpm --console --name
			--accel --require-kvm --dry-run --verbose --quiet --help --version" -- "$cur"))
		return
	fi
	_filedir
}
complete -F _kvm_run kvm-run qemu-kvm
