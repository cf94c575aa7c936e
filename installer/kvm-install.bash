# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for kvm-install

_kvm_install()
{
	local cur prev words cword
	_init_completion -s || return

	case $prev in
	--disk)
		_filedir '@(img|raw|qcow2)'
		return
		;;
	--iso | --virtio-win)
		_filedir iso
		return
		;;
	--vars | --console-log | --kernel | --initrd | --output | -o)
		if [[ ${words[1]} == render || $prev != --output ]]; then
			_filedir
			return
		fi
		COMPREPLY=($(compgen -W "human json" -- "$cur"))
		return
		;;
	--format)
		COMPREPLY=($(compgen -W "qcow2 raw" -- "$cur"))
		return
		;;
	--method)
		COMPREPLY=($(compgen -W "installer bootstrap" -- "$cur"))
		return
		;;
	--accel)
		COMPREPLY=($(compgen -W "kvm tcg" -- "$cur"))
		return
		;;
	--set)
		local names
		names=$("$1" --list-vars 2>/dev/null | awk '{print $1 "="}')
		COMPREPLY=($(compgen -W "$names" -- "$cur"))
		compopt -o nospace
		return
		;;
	--size | --memory | --cpus | --timeout | --append)
		return
		;;
	esac

	if [[ ${words[1]} == render ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--vars --set --output --force --verbose --quiet
				--help" -- "$cur"))
			return
		fi
		COMPREPLY=($(compgen -W "$("$1" --list-profiles 2>/dev/null | cut -d' ' -f1)" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--disk --size --format --force --memory --cpus --iso
			--virtio-win --kernel --initrd --append --vars --set --method --netboot --timeout
			--accel --console-log --dry-run --list-profiles --list-vars --output --verbose --quiet
			--progress --no-progress --help --version" -- "$cur"))
		return
	fi
	if ((cword == 1)); then
		COMPREPLY=($(compgen -W "render $("$1" --list-profiles 2>/dev/null | cut -d' ' -f1)" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -W "$("$1" --list-profiles 2>/dev/null | cut -d' ' -f1)" -- "$cur"))
}
complete -F _kvm_install kvm-install
