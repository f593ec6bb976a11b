"""The configuration files of one sandbox host and one site database."""

from __future__ import annotations

import secrets
from pathlib import Path

from runbook.sandbox.topology import Node, Site, Topology


def sshd_config(node: Node, etc: Path) -> str:
    # curve25519 only: a new connection then costs ~54 ms instead of ~300 ms (DESIGN.md).
    return f"""\
ListenAddress {node.ip}
Port 22
HostKey {etc}/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org
ClientAliveInterval 10
ClientAliveCountMax 3
MaxStartups 200:30:400
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
"""


def nginx_conf(node: Node, site: str) -> str:
    return f"""\
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log warn;

events {{
    worker_connections 256;
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    server_tokens off;
    client_body_temp_path /run/nginx/body;
    fastcgi_temp_path /run/nginx/fastcgi;
    proxy_temp_path /run/nginx/proxy;
    uwsgi_temp_path /run/nginx/uwsgi;
    scgi_temp_path /run/nginx/scgi;
    # The combined format plus $request_time, which the health checks read.
    log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time';
    access_log /var/log/nginx/access.log timed;

    server {{
        listen {node.ip}:80 default_server;
        listen 127.0.0.1:80 default_server;
        server_name {site}.sandbox.test {node.name};
        root /var/www/{site}/htdocs;
        index index.php;

        location / {{
            try_files $uri $uri/ /index.php?$args;
        }}
        location ~ /\\.ht {{
            deny all;
        }}
        location ~ \\.php$ {{
            fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
            try_files $fastcgi_script_name =404;
            set $path_info $fastcgi_path_info;
            fastcgi_param PATH_INFO $path_info;
            fastcgi_index index.php;
            include /etc/nginx/fastcgi.conf;
            fastcgi_pass unix:/run/php/php-fpm.sock;
        }}
    }}
}}
"""


def php_fpm_conf() -> str:
    return """\
[global]
pid = /run/php/php-fpm.pid
error_log = /var/log/php-fpm.log
daemonize = yes

[www]
user = www-data
group = www-data
listen = /run/php/php-fpm.sock
listen.owner = www-data
listen.group = www-data
pm = ondemand
pm.max_children = 4
pm.process_idle_timeout = 30s
catch_workers_output = yes
php_admin_flag[log_errors] = on
php_admin_value[error_log] = /var/log/php/error.log
php_admin_value[memory_limit] = 128M
"""


def etc_hosts(node: Node, topology: Topology) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        f"{node.ip}\t{node.name} {node.site}.sandbox.test",
        f"{topology.gateway}\tcontrol",
    ]
    lines += [f"{n.ip}\t{n.name}" for n in topology.nodes if n != node]
    return "\n".join(lines) + "\n"


def wp_config(site: Site, topology: Topology, db_password: str) -> str:
    salts = "\n".join(
        f"define('{name}', '{secrets.token_hex(32)}');"
        for name in (
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        )
    )
    return f"""\
<?php
// Written by `runbook sandbox up` for site {site.name}.
define('DB_NAME', 'wordpress');
define('DB_USER', 'wordpress');
define('DB_PASSWORD', '{db_password}');
define('DB_HOST', '{topology.gateway}:{site.db_port}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';
define('WP_HOME', 'http://{site.name}.sandbox.test');
define('WP_SITEURL', 'http://{site.name}.sandbox.test');
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', true);
define('WP_DEBUG_DISPLAY', false);
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('FS_METHOD', 'direct');
{salts}
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""


def my_cnf(datadir: Path, rundir: Path, bind: str | None, port: int) -> str:
    network = f"bind-address = {bind}\nport = {port}\n" if bind else "skip-networking\n"
    return f"""\
[mysqld]
user = mysql
datadir = {datadir}
socket = {rundir}/mysqld.sock
pid-file = {rundir}/mysqld.pid
log-error = {rundir}/error.log
{network}skip-name-resolve
skip-log-bin
performance_schema = OFF
innodb_buffer_pool_size = 16M
innodb_log_file_size = 16M
innodb_log_buffer_size = 1M
key_buffer_size = 1M
max_connections = 60
thread_cache_size = 4
table_open_cache = 200
aria_pagecache_buffer_size = 1M
"""
