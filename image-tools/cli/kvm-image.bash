# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for kvm-image

_kvm_image()
{
	local cur prev words cword
	_init_completion -s || return

	local commands="convert info check compare create map measure import"
	local formats="qcow2 vmdk raw"
	local writable="qcow2 vmdk raw"

	if ((cword == 1)); then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi

	if [[ ${words[1]} == import ]]; then
		case $prev in
		-o | --output)
			_filedir -d
			return
			;;
		-O | --format)
			COMPREPLY=($(compgen -W "qcow2 raw" -- "$cur"))
			return
			;;
		--virtio-win)
			_filedir iso
			return
			;;
		esac
	fi

	case $prev in
	-f | --format | --source-format | -F | --a-format | --b-format)
		COMPREPLY=($(compgen -W "$formats" -- "$cur"))
		return
		;;
	-O | --target-format)
		COMPREPLY=($(compgen -W "$writable" -- "$cur"))
		return
		;;
	--output)
		COMPREPLY=($(compgen -W "human json" -- "$cur"))
		return
		;;
	-o | --options | -m | --threads | -s | --size)
		return
		;;
	-B | --backing)
		_filedir
		return
		;;
	esac

	local opts
	case ${words[1]} in
	convert)
		opts="--source-format --target-format --options --compress --backing --threads --force
		      --allow-external-files --progress --no-progress --quiet --verbose --help" ;;
	info)
		opts="--format --backing-chain --output= --allow-external-files --help" ;;
	check)
		opts="--format --output= --allow-external-files --quiet --help" ;;
	compare)
		opts="--a-format --b-format --allow-external-files --quiet --help" ;;
	create)
		opts="--format --options --force --quiet --help" ;;
	map)
		opts="--format --output= --allow-external-files --help" ;;
	import)
		opts="--output --format --flatten --keep-chain --fix-guest --virtio-win --force
		      --allow-external-files --threads --progress --no-progress --quiet --verbose
		      --help" ;;
	measure)
		opts="--target-format --options --compress --source-format --size --output=
		      --allow-external-files --help" ;;
	*)
		return ;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		[[ ${COMPREPLY-} == *= ]] && compopt -o nospace
		return
	fi
	_filedir
}
complete -F _kvm_image kvm-image
