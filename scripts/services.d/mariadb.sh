# MariaDB on 127.0.0.1:3306 for the query_database tests: root without a password over TCP,
# and a database `test` (the tests create and drop their own database per run in it).
_maria_ok() { mariadb -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 -e 'select 1' >/dev/null 2>&1; }
if command -v mariadb >/dev/null && ! _maria_ok; then
    if [ "$(id -u)" -eq 0 ] && command -v mariadbd-safe >/dev/null; then
        echo "starting MariaDB (log: /tmp/masterai-mariadb.log)"
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
        setsid nohup mariadbd-safe --bind-address=127.0.0.1 --port=3306 \
            >/tmp/masterai-mariadb.log 2>&1 </dev/null &
        for _i in $(seq 1 60); do
            mariadb -u root -e 'select 1' >/dev/null 2>&1 && break
            sleep 0.5
        done
        unset _i
    fi
    # A fresh Debian server admits root only through the local socket (unix_socket). Once, as
    # root: let root in over TCP from 127.0.0.1 without a password (a test machine only).
    if [ "$(id -u)" -eq 0 ] && mariadb -u root -e 'select 1' >/dev/null 2>&1 && ! _maria_ok; then
        echo "MariaDB: allowing root@127.0.0.1 without a password (test machine)"
        mariadb -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
            GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
    fi
fi
if _maria_ok; then
    mariadb -h 127.0.0.1 -P 3306 -u root -e 'CREATE DATABASE IF NOT EXISTS test' >/dev/null 2>&1 || true
else
    echo "warning: MariaDB does not answer on 127.0.0.1:3306 (install mariadb-server; run as root)" >&2
fi
unset -f _maria_ok
