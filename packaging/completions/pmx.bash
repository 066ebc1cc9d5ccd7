# bash completion for pmx: its commands, their options, and the names of the apps of a
# running pmxd (installed as /usr/share/bash-completion/completions/pmx).

# The app names of the daemon of $PMX_HOME, or nothing. Completing must never start a daemon:
# pmx starts one when nothing answers, so it is given /bin/false as the daemon to start, and
# gives up at once when none is running.
_pmx_apps() {
    [[ -S ${PMX_HOME:-$HOME/.pmx}/pmx.sock ]] || return 0
    PMXD=/bin/false command pmx --no-color --timeout 1s jlist 2>/dev/null |
        grep -o '"name":"[^"\\]*"' | sed 's/^"name":"//; s/"$//' | sort -u
}

_pmx() {
    local cur prev words cword
    _init_completion || return

    local verbs="start stop restart reload startOrRestart startOrReload delete del scale
        ecosystem init reset describe desc info show list ls l ps status jlist prettylist env
        pid id flush reloadLogs logs monit ping kill trigger sendData send-data signal sendSignal help
        save dump resurrect cleardump startup unstartup update serve deploy completion metrics report"
    local globals="--no-color --timeout --help --version"
    local file_flags="--only --env"
    local start_flags="--name --namespace --cwd --interpreter --interpreter-args --node-args
        --instances --force --no-autorestart --max-restarts --min-uptime --restart-delay
        --exp-backoff-restart-delay --exp-backoff-restart-delay-max --stop-exit-codes
        --kill-timeout --kill-signal --max-memory-restart --cpu-quota --memory-max --tasks-max
        --output --error --pid --cron-restart
        --cron --ignore-watch --watch-delay --log --log-date-format --log-type --port --listen
        --filter-env --instance-var --increment-var --uid --user --gid --listen-timeout
        --exec-mode --log-max-size --log-retain --log-rotate-interval --watch --merge-logs
        --combine-logs --time --disable-logs --wait-ready --shutdown-with-message --log-compress
        --reuse-port --no-autostart --no-pmx --update-env --health-check --depends-on $file_flags"
    local logs_flags="--lines --err --out --raw --json --nostream --timestamp --highlight"

    # The verb: the first word that is no option (nor --timeout's value).
    local i verb="" verb_at=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --timeout) ((i++)) ;;
            -*) ;;
            *) verb=${words[i]} verb_at=$i; break ;;
        esac
    done

    case $prev in
        --timeout | --name | -n | --namespace | --instances | -i | --max-restarts | --min-uptime | \
            --restart-delay | --exp-backoff-restart-delay | --exp-backoff-restart-delay-max | \
            --stop-exit-codes | --kill-timeout | --max-memory-restart | --cpu-quota | --memory-max | \
            --tasks-max | --cron-restart | --cron | \
            --ignore-watch | --watch-delay | --log-date-format | --port | --listen | --filter-env | \
            --instance-var | --increment-var | --listen-timeout | --log-max-size | --log-retain | \
            --log-rotate-interval | --interpreter-args | --node-args | --only | --env | --lines | \
            --highlight | --topic | --health-check | --depends-on | --interval)
            return ;;
        --cwd)
            _filedir -d
            return ;;
        --interpreter)
            COMPREPLY=($(compgen -c -- "$cur"))
            return ;;
        --output | -o | --error | -e | --pid | -p | --log | -l)
            _filedir
            return ;;
        --kill-signal)
            COMPREPLY=($(compgen -W "$(kill -l | grep -o 'SIG[A-Z0-9+-]*')" -- "$cur"))
            return ;;
        --exec-mode)
            COMPREPLY=($(compgen -W "fork cluster" -- "$cur"))
            return ;;
        --log-type)
            COMPREPLY=($(compgen -W "json" -- "$cur"))
            return ;;
        --uid | --user)
            COMPREPLY=($(compgen -u -- "$cur"))
            return ;;
        --gid)
            COMPREPLY=($(compgen -g -- "$cur"))
            return ;;
    esac

    if [[ -z $verb ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$globals" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$verbs" -- "$cur"))
        fi
        return
    fi

    local flags="" targets=apps files=no
    case $verb in
        start) flags=$start_flags files=yes ;;
        stop) flags="--watch $file_flags" files=yes ;;
        restart) flags="--watch --update-env $file_flags" files=yes ;;
        reload | startOrRestart | startOrReload) flags="--update-env $file_flags" files=yes ;;
        delete | del) flags=$file_flags files=yes ;;
        reset | describe | desc | info | show | flush | env | pid | id | trigger | sendData | send-data) ;;
        scale) ((cword - verb_at > 1)) && targets=none ;;
        logs) flags=$logs_flags ;;
        monit) flags="--interval" targets=none ;;
        save | dump) flags="--force" targets=none ;;
        resurrect) flags="--from-pm2" targets=none files=yes ;;
        startup | unstartup)
            flags="--user --hp --service-name --unit-dir --dry-run" targets=none
            ((cword - verb_at == 1)) && [[ $cur != -* ]] && { COMPREPLY=($(compgen -W "systemd" -- "$cur")); return; } ;;
        serve)
            flags="--port --name --spa --basic-auth-username --basic-auth-password" targets=none
            [[ $cur != -* ]] && { _filedir -d; return; } ;;
        deploy)
            flags="--force" targets=none
            if [[ $cur != -* ]]; then
                case $((cword - verb_at)) in
                    1) _filedir '@(js|cjs|mjs|json|yaml|yml)'; return ;;
                    3) COMPREPLY=($(compgen -W "setup update revert curr prev list exec ref" -- "$cur")); return ;;
                esac
            fi ;;
        completion)
            COMPREPLY=($(compgen -W "bash zsh install" -- "$cur"))
            return ;;
        signal | sendSignal)
            if ((cword - verb_at == 1)); then
                COMPREPLY=($(compgen -W "$(kill -l | grep -o 'SIG[A-Z0-9+-]*')" -- "$cur"))
                return
            fi ;;
        *) targets=none ;;
    esac
    [[ $verb == sendData || $verb == send-data ]] && flags="--topic"
    [[ $verb == trigger || $verb == sendData || $verb == send-data ]] && ((cword - verb_at > 1)) && targets=none

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags $globals" -- "$cur"))
        return
    fi
    # -o filenames: bash quotes what it inserts ("my worker" becomes my\ worker).
    [[ $targets == apps ]] && compopt -o filenames && mapfile -t COMPREPLY < <(_pmx_app_words "$cur")
    [[ $files == yes ]] && _filedir  # adds to COMPREPLY
    return 0
}

# The app names (one a line: a name may hold spaces) and "all" that start with $1.
_pmx_app_words() {
    local IFS=$'\n'
    compgen -W "$(_pmx_apps)"$'\n'all -- "$1"
}
complete -F _pmx pmx
