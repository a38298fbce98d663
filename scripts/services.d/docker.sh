# Docker engine for the sandbox's docker backend (sourced by scripts/test-services).
# Starts dockerd in the background when no engine answers, waits for it (bounded), then makes
# sure the sandbox images exist, building them locally if not (fast when up to date).
_docker_ping() { .venv/bin/python -c 'import docker; docker.from_env(timeout=2).ping()' >/dev/null 2>&1; }
if ! _docker_ping; then
    if command -v dockerd >/dev/null && [ "$(id -u)" -eq 0 ]; then
        echo "starting dockerd (log: /tmp/masterai-dockerd.log)"
        setsid nohup dockerd >/tmp/masterai-dockerd.log 2>&1 </dev/null &
        for _i in $(seq 1 60); do
            _docker_ping && break
            sleep 0.5
        done
        unset _i
    fi
fi
if _docker_ping; then
    .venv/bin/masterai sandbox build-images --quiet || echo "warning: sandbox images could not be built" >&2
else
    echo "warning: no Docker engine (install docker.io; dockerd needs root)" >&2
fi
unset -f _docker_ping
