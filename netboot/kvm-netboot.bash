# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for kvm-netboot

_kvm_netboot()
{
	local cur prev words cword
	_init_completion -s || return

	local commands="init add host serve export"
	if ((cword == 1)); then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi

	case $prev in
	--tree)
		_filedir -d
		return
		;;
	--from | --virtio-win)
		_filedir
		return
		;;
	--answers | --wimboot)
		_filedir
		return
		;;
	--interface)
		COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
		return
		;;
	--format)
		COMPREPLY=($(compgen -W "dnsmasq kea isc-dhcpd" -- "$cur"))
		return
		;;
	--output)
		COMPREPLY=($(compgen -W "human json" -- "$cur"))
		return
		;;
	--profile)
		local tree=/srv/kvm-netboot i
		for ((i = 1; i < cword; i++)); do
			[[ ${words[i]} == --tree ]] && tree=${words[i + 1]}
		done
		COMPREPLY=($(compgen -W "$(ls "$tree/boot/profiles" 2>/dev/null)" -- "$cur"))
		return
		;;
	--server | --http-port | --timeout | --dhcp-range | --name | --append)
		return
		;;
	esac

	local options
	case ${words[1]} in
	init)
		options="--server --http-port --timeout --force"
		;;
	add)
		options="--tree --from --name --append --wimboot --virtio-win --list-profiles --force
			--progress --no-progress"
		if [[ $cur != -* ]] && ((cword == 2)); then
			COMPREPLY=($(compgen -W "$("$1" add --list-profiles 2>/dev/null | cut -d' ' -f1)" -- "$cur"))
			return
		fi
		;;
	host)
		options="--tree --profile --answers --force --output"
		if [[ $cur != -* ]] && ((cword == 2)); then
			COMPREPLY=($(compgen -W "add remove list" -- "$cur"))
			return
		fi
		;;
	serve)
		options="--interface --dhcp-range --http-port --secure-boot"
		;;
	export)
		options="--tree --format --server"
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$options --verbose --quiet --help" -- "$cur"))
		[[ ${COMPREPLY-} == --output ]] && compopt -o nospace && COMPREPLY=(--output=)
		return
	fi
	_filedir -d
}
complete -F _kvm_netboot kvm-netboot
