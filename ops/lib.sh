# Shared by ops/demo.sh, ops/test.sh and the end-to-end tests: a throwaway
# PostgreSQL cluster and throwaway TLS material.  Source it; needs bash.

kg_pg_bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && echo "$d"; done | sort -V | tail -1
}

# PostgreSQL refuses to run as root: when root, the cluster belongs to the
# 'postgres' system user (created by the postgresql package).
kg_pg_run() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# kg_pg_start DIR PORT: a cluster in DIR/pg listening on 127.0.0.1:PORT and
# a Unix socket in DIR/pg; trust authentication (local, throwaway only).
# Sets KG_PGHOST KG_PGPORT KG_PGSUPER.
kg_pg_start() {
	local dir=$1 port=$2 bin
	bin=$(kg_pg_bindir) || return 1
	[ -n "$bin" ] || { echo "PostgreSQL server binaries not found" >&2; return 1; }
	mkdir -p "$dir/pg"
	chmod 755 "$dir"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/pg"; fi
	kg_pg_run "$bin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/pg/initdb.log" 2>&1 \
		|| { cat "$dir/pg/initdb.log" >&2; return 1; }
	kg_pg_run "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
		-o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null \
		|| { cat "$dir/pg/server.log" >&2; return 1; }
	KG_PGHOST=$dir/pg KG_PGPORT=$port KG_PGSUPER=postgres
	export KG_PGHOST KG_PGPORT KG_PGSUPER
}

kg_pg_stop() {
	local dir=$1 bin
	bin=$(kg_pg_bindir)
	[ -d "$dir/pg/data" ] && kg_pg_run "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
}

# kg_pg_dsn DB USER
kg_pg_dsn() { echo "host=$KG_PGHOST port=$KG_PGPORT dbname=$1 user=$2"; }

# kg_psql DB SQL...: as the superuser.
kg_psql() {
	local db=$1; shift
	psql -X -q -v ON_ERROR_STOP=1 -h "$KG_PGHOST" -p "$KG_PGPORT" -U "$KG_PGSUPER" -d "$db" "$@"
}

# kg_free_port: a TCP port nobody listens on now.
kg_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# kg_make_tls DIR: a CA and a server certificate for 127.0.0.1/localhost.
kg_make_tls() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj "/CN=Keygate test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$d/ext.cnf"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
		-extfile "$d/ext.cnf" -out "$d/server.pem" 2>/dev/null
	chmod 600 "$d/server.key" "$d/ca.key"
}

# kg_wait_http URL CA TRIES: waits for the broker to answer.
kg_wait_http() {
	local i
	for i in $(seq 1 "${3:-100}"); do
		curl -fsS --cacert "$2" "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
