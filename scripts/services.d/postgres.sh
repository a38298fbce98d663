# PostgreSQL on 127.0.0.1:5432 (tests create and drop their own database per run).
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
        echo "starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    fi
fi
# A fresh Debian cluster admits the postgres role only through the local socket (peer), and
# has no `test` database. Once, as root: give the role a random password, kept in ~/.pgpass
# (libpq reads it; the password never appears on a command line), and create `test`. A server
# that already lets us in, or a MASTERAI_TEST_POSTGRES_URL of your own, is used as it is.
if [ -z "${MASTERAI_TEST_POSTGRES_URL:-}" ] && [ "$(id -u)" -eq 0 ] && command -v psql >/dev/null \
    && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null \
    && ! psql -X -w -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
    _pgpass=${PGPASSFILE:-${HOME:-/root}/.pgpass}
    _pg() { runuser -u postgres -- psql -X -q -At -p 5432 "$@"; }
    if [ "$(_pg -c "select rolpassword is null from pg_authid where rolname = 'postgres'")" = t ]; then
        echo "PostgreSQL: giving the postgres role a password (saved in $_pgpass)"
        _pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
        printf "alter role postgres password '%s';\n" "$_pw" | _pg \
            && (umask 077 && printf '127.0.0.1:5432:*:postgres:%s\n' "$_pw" >> "$_pgpass") \
            && chmod 600 "$_pgpass"
        unset _pw
    fi
    if [ "$(_pg -c "select count(*) from pg_database where datname = 'test'")" = 0 ]; then
        runuser -u postgres -- createdb -p 5432 test
    fi
    unset -f _pg
    unset _pgpass
    psql -X -w -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1 \
        || echo "warning: PostgreSQL refuses postgres@127.0.0.1/test; set MASTERAI_TEST_POSTGRES_URL" >&2
fi
# Tests may run with another HOME: point libpq at the password file explicitly.
if [ -z "${PGPASSFILE:-}" ] && [ -f "${HOME:-/nonexistent}/.pgpass" ]; then
    export PGPASSFILE=$HOME/.pgpass
fi
export MASTERAI_TEST_POSTGRES_URL=${MASTERAI_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
