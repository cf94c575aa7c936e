# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for kvm-ok

_kvm_ok()
{
	local cur prev words cword
	_init_completion -s || return

	case $prev in
	--output)
		COMPREPLY=($(compgen -W "human json" -- "$cur"))
		return
		;;
	esac

	COMPREPLY=($(compgen -W "--selftest --output= --quiet --verbose --help --version" -- "$cur"))
	[[ ${COMPREPLY-} == *= ]] && compopt -o nospace
}
complete -F _kvm_ok kvm-ok
