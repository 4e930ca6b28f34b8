# bash completion for meshd(8)
_meshd()
{
	local cur prev cmd opts
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "init up invite join status revoke down set routes graph wg --help --version" -- "$cur"))
		return
	fi
	cmd=${COMP_WORDS[1]}
	case $prev in
	-d | --dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return ;;
	--hosts-file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--metrics)
		COMPREPLY=($(compgen -W "127.0.0.1:9100 [::1]:9100 off" -- "$cur"))
		return ;;
	--tcp-port)
		COMPREPLY=($(compgen -W "443 0" -- "$cur"))
		return ;;
	esac
	case $cmd in
	init) opts="-d --dir --name --mesh-name --prefix --port --tcp-port --cert-ttl" ;;
	up) opts="-d --dir -i --interface -f --foreground --advertise-routes --hosts-file --hosts-file-short --metrics --tcp-port" ;;
	invite) opts="-d --dir --ttl --uses" ;;
	join) opts="-d --dir --name -i --interface --port --tcp-port -f --foreground --advertise-routes --hosts-file --hosts-file-short" ;;
	status) opts="-d --dir --json" ;;
	routes) opts="-d --dir --json approve deny" ;;
	set) opts="-d --dir --advertise-routes --metrics --tcp-port" ;;
	revoke | down | graph) opts="-d --dir" ;;
	wg) opts="-f --foreground" ;;
	esac
	COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
}
complete -F _meshd meshd
