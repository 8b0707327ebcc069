#!/usr/bin/perl
# bench/bench.pl: Hephaestus against registry:2 and static nginx.
#
#   perl bench/bench.pl          (make bench)
#   BENCH_QUICK=1 perl bench/bench.pl
#
# Starts on 127.0.0.1, on one data folder under bench/out/work:
#   heph     /usr/sbin/nginx with our module (registry_sync on), plus a
#            second server block with registry_sync off used only to seed
#   reg2     Debian's registry:2 (docker-registry) on the same folder
#   static   plain /usr/sbin/nginx serving the same blob and manifest
#            files with alias (pull workloads only)
# Every workload runs BENCH_RUNS times (3), servers interleaved (the
# 1 GiB pull three times a run); the table shows medians.  It is written to bench/out/results.md as well.
# Targets are printed met / not met; the script never fails because of
# one (exit 0), only when it cannot run at all.
#
# Knobs (environment): BENCH_QUICK=1 (64 MiB big blob, 32 MiB "256 MiB"
# push, 100/300 repositories, 2 s wrk runs), BENCH_RUNS, BENCH_DURATION
# (wrk seconds), BENCH_PORT (first of 4 ports, 18080), BENCH_REPOS
# ("1000,10000"), BENCH_KEEP=1 (keep bench/out/work), MODULE, NGINX.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use HTTP::Tiny;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use JSON::PP;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

$| = 1;

my $TOP = abs_path(dirname(abs_path($0)) . '/..');
my $OUT = "$TOP/bench/out";
my $WORK = "$OUT/work";
my $DATA = "$WORK/data";
my $V2 = "$DATA/docker/registry/v2";
my $MODULE = $ENV{MODULE} || "$TOP/build/nginx/ngx_http_registry_module.so";
my $NGINX = $ENV{NGINX} || '/usr/sbin/nginx';

my $QUICK = $ENV{BENCH_QUICK} ? 1 : 0;
my $MiB = 1024 * 1024;
my $RUNS = $ENV{BENCH_RUNS} || 3;
my $DUR = $ENV{BENCH_DURATION} || ($QUICK ? 2 : 5);
my $BIG = $QUICK ? 64 * $MiB : 1024 * $MiB;
my $MID = $QUICK ? 32 * $MiB : 256 * $MiB;
my $SMALL = 10 * $MiB;
my $CHUNK = 8 * $MiB;
my $IMG_LAYER = $QUICK ? 4 * $MiB : 48 * $MiB;
my $IMG_LAYERS = 4;
my @REPOS = split /,/, ($ENV{BENCH_REPOS} || ($QUICK ? '100,300' : '1000,10000'));
my $TAGS = 10;
my $SEED_LIMIT = 1500;          # seconds for all the seeding, at most
my $PORT = $ENV{BENCH_PORT} || free_ports(29180, 4);
my %PORT = (heph => $PORT, seed => $PORT + 1, reg2 => $PORT + 2,
    static => $PORT + 3);
my %NAME = (heph => 'hephaestus', reg2 => 'registry:2',
    static => 'static nginx');
my $OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

my $JSON = JSON::PP->new->canonical;
my %PID;                        # server => pid, for stop_server()
my @notes;
my %res;                        # "$workload/$server" => [ values ]
my %extra;                      # "$workload/$server" => text
my $t_start = time;


# ---------------------------------------------------------------- helpers

sub say_ { print join('', @_), "\n" }

sub sh {
    my ($cmd) = @_;
    my $out = `$cmd`;
    die "failed ($?): $cmd\n" if $?;
    return $out;
}

sub median {
    my @v = sort { $a <=> $b } grep { defined } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return undef unless @v;
    my $i = int($p / 100 * @v + 0.999999) - 1;
    $i = 0 if $i < 0;
    return $v[$i];
}

sub write_file {
    my ($path, $text) = @_;
    make_path(dirname($path));
    open my $fh, '>', $path or die "$path: $!\n";
    print $fh $text;
    close $fh or die "$path: $!\n";
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    return scalar <$fh>;
}

sub sha256_file {
    my ($path) = @_;
    my $out = sh("openssl dgst -sha256 -r '$path'");
    $out =~ /^([0-9a-f]{64})/ or die "openssl dgst: $out\n";
    return "sha256:$1";
}

sub loadavg { (split ' ', read_file('/proc/loadavg'))[0 .. 2] }

sub record {
    my ($w, $s, $v) = @_;
    push @{ $res{"$w/$s"} }, $v if defined $v;
}

sub med { median(@{ $res{"$_[0]/$_[1]"} || [] }) }

# BENCH_ONLY=pull,load,push,image,catalog runs only those sections
sub want {
    my ($section) = @_;
    return 1 unless $ENV{BENCH_ONLY};
    return grep { $_ eq $section } split /,/, $ENV{BENCH_ONLY};
}


# ---------------------------------------------------------------- servers

# the first of n consecutive free loopback ports from start on
sub free_ports {
    my ($start, $n) = @_;
    PORT: for (my $p = $start; $p < $start + 2000; $p += $n) {
        my @held;
        for my $q ($p .. $p + $n - 1) {
            my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                LocalPort => $q, Proto => 'tcp', Listen => 1, ReuseAddr => 1)
                or next PORT;
            push @held, $s;
        }
        return $p;
    }
    die "no $n free ports from $start\n";
}

sub spawn {
    my ($name, $log, @cmd) = @_;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log;
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    $PID{$name} = $pid;
    write_file("$WORK/$name.pid", "$pid\n");
    return $pid;
}

sub wait_up {
    my ($name, $port) = @_;
    my $http = HTTP::Tiny->new(timeout => 2);
    for (1 .. 100) {
        my $r = $http->get("http://127.0.0.1:$port/v2/");
        return if $r->{status} == 200;
        my $k = waitpid($PID{$name}, POSIX::WNOHANG());
        die "$name exited; see $WORK/$name.log\n" if $k == $PID{$name};
        sleep 0.1;
    }
    die "$name does not answer on port $port; see $WORK/$name.log\n";
}

sub stop_server {
    my ($name) = @_;
    my $pid = delete $PID{$name} or return;
    kill 'TERM', $pid;
    for (1 .. 100) {
        return if waitpid($pid, POSIX::WNOHANG()) == $pid;
        sleep 0.1;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
}

sub stop_all { stop_server($_) for keys %PID }

END { my $rc = $?; stop_all() if %PID; $? = $rc }
$SIG{INT} = $SIG{TERM} = sub { stop_all(); exit 130 };

sub nginx_globals {
    my $g = 'daemon off; master_process on;';
    $g .= ' user root;' if $> == 0;
    return $g;
}

sub start_heph {
    my $dir = "$WORK/heph";
    make_path("$dir/logs", "$dir/body");
    write_file("$dir/nginx.conf", <<"EOF");
load_module $MODULE;
worker_processes 2;
error_log $dir/logs/error.log notice;
pid $dir/nginx.pid;
thread_pool registry threads=4;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path $dir/body;
    client_body_buffer_size 1m;
    server {
        listen 127.0.0.1:$PORT{heph};
        location /v2/ {
            registry on;
            registry_root $DATA;
            registry_delete on;
            registry_thread_pool registry;
            client_max_body_size 0;
        }
    }
    server {
        listen 127.0.0.1:$PORT{seed};
        location /v2/ {
            registry on;
            registry_root $DATA;
            registry_sync off;
            registry_catalog_cache 0;
            registry_thread_pool registry;
            client_max_body_size 0;
        }
    }
}
EOF
    sh("$NGINX -t -q -p $dir -c $dir/nginx.conf -g '" . nginx_globals()
        . "' 2>&1");
    spawn('heph', "$WORK/heph.log", $NGINX, '-p', $dir, '-c',
        "$dir/nginx.conf", '-g', nginx_globals());
    wait_up('heph', $PORT{heph});
}

sub start_static {
    my ($tag_path) = @_;
    my $dir = "$WORK/static";
    make_path("$dir/logs");
    my $hex = '"^/v2/.+/%s/sha256:([0-9a-f]{2})([0-9a-f]{62})$"';
    my $blobs = sprintf $hex, 'blobs';
    my $mans = sprintf $hex, 'manifests';
    write_file("$dir/nginx.conf", <<"EOF");
worker_processes 2;
error_log $dir/logs/error.log notice;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    server {
        listen 127.0.0.1:$PORT{static};
        location = /v2/ { return 200 "{}"; }
        location ~ $blobs {
            alias $V2/blobs/sha256/\$1/\$1\$2/data;
            types { }
            default_type application/octet-stream;
            add_header Docker-Content-Digest sha256:\$1\$2;
        }
        location ~ $mans {
            alias $V2/blobs/sha256/\$1/\$1\$2/data;
            types { }
            default_type $OCI_MANIFEST;
            add_header Docker-Content-Digest sha256:\$1\$2;
        }
        location = /v2/bench/pull/manifests/latest {
            alias $tag_path;
            types { }
            default_type $OCI_MANIFEST;
        }
    }
}
EOF
    sh("$NGINX -t -q -p $dir -c $dir/nginx.conf -g '" . nginx_globals()
        . "' 2>&1");
    spawn('static', "$WORK/static.log", $NGINX, '-p', $dir, '-c',
        "$dir/nginx.conf", '-g', nginx_globals());
    wait_up('static', $PORT{static});
}

sub start_reg2 {
    write_file("$WORK/reg2.yml", <<"EOF");
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DATA
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$PORT{reg2}
EOF
    spawn('reg2', "$WORK/reg2.log", 'docker-registry', 'serve',
        "$WORK/reg2.yml");
    wait_up('reg2', $PORT{reg2});
}


# ---------------------------------------------------- worker memory (RSS)

sub workers {
    my ($master) = @_;
    my $f = "/proc/$master/task/$master/children";
    return split ' ', (-r $f ? read_file($f) : '');
}

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return undef;
}

# largest VmRSS of the master's children now, in KiB
sub rss_now { my $m = 0; for (workers($_[0])) { my $r = rss_kb($_) // 0;
    $m = $r if $r > $m } return $m }

# sampler: a child process reading VmRSS every 100 ms until told to stop
sub sampler_start {
    my ($master, $tag) = @_;
    my $file = "$WORK/rss-$tag";
    unlink $file, "$file.stop";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        my %peak;
        my $end = time + 1800;
        while (!-e "$file.stop" && time < $end) {
            for my $w (workers($master)) {
                my $r = rss_kb($w) // next;
                $peak{$w} = $r if !$peak{$w} || $r > $peak{$w};
            }
            sleep 0.1;
        }
        open my $fh, '>', $file;
        print $fh "$_ $peak{$_}\n" for keys %peak;
        close $fh;
        POSIX::_exit(0);
    }
    return { pid => $pid, file => $file };
}

sub sampler_stop {
    my ($s) = @_;
    write_file("$s->{file}.stop", '');
    waitpid($s->{pid}, 0);
    my $m = 0;
    for (split /\n/, read_file($s->{file})) {
        my (undef, $kb) = split;
        $m = $kb if $kb > $m;
    }
    return $m;
}


# ------------------------------------------------- raw HTTP/1.1 (uploads)

sub conn {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp') // die "connect $port: $!\n";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1) or die "nodelay: $!\n";
    return $s;
}

sub write_all {
    my ($sock, $buf) = @_;
    my $off = 0;
    while ($off < length $buf) {
        my $n = syswrite($sock, $buf, length($buf) - $off, $off);
        die "write: $!\n" unless defined $n;
        $off += $n;
    }
}

# body from a file: $src = { fh, off, len }, sent as is or chunked
sub send_file_body {
    my ($sock, $src, $chunked) = @_;
    sysseek($src->{fh}, $src->{off}, 0) // die "seek: $!\n";
    my $left = $src->{len};
    my $buf;
    while ($left > 0) {
        my $want = $left < $MiB ? $left : $MiB;
        my $n = sysread($src->{fh}, $buf, $want);
        die "read: $!\n" unless $n;
        write_all($sock, sprintf("%x\r\n", $n)) if $chunked;
        write_all($sock, $buf);
        write_all($sock, "\r\n") if $chunked;
        $left -= $n;
    }
    write_all($sock, "0\r\n\r\n") if $chunked;
}

sub read_response {
    my ($sock) = @_;
    my $buf = '';
    while ($buf !~ /\r\n\r\n/) {
        my $n = sysread($sock, $buf, 65536, length $buf);
        die "connection closed\n" unless $n;
    }
    my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
    my ($status_line, @lines) = split /\r\n/, $head;
    my ($status) = $status_line =~ m{^HTTP/1\.\d (\d+)} or die "bad: $head\n";
    my %h;
    for (@lines) { my ($k, $v) = split /:\s*/, $_, 2; $h{lc $k} = $v }
    my $len = $h{'content-length'} // 0;
    while (length $rest < $len) {
        my $n = sysread($sock, $rest, $len - length $rest, length $rest);
        die "connection closed\n" unless $n;
    }
    return { status => $status, h => \%h, body => $rest };
}

sub request {
    my ($sock, $method, $path, %o) = @_;
    my $head = "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    $head .= "$_: $o{headers}{$_}\r\n" for sort keys %{ $o{headers} || {} };
    if ($o{chunked}) {
        $head .= "Transfer-Encoding: chunked\r\n";
    } elsif ($o{file}) {
        $head .= "Content-Length: $o{file}{len}\r\n";
    } else {
        $head .= 'Content-Length: ' . length($o{body} // '') . "\r\n";
    }
    if ($o{file}) {
        write_all($sock, "$head\r\n");
        send_file_body($sock, $o{file}, $o{chunked});
    } else {
        write_all($sock, "$head\r\n" . ($o{body} // ''));
    }
    return read_response($sock);
}

# a Location as a request path; registry:2 sends absolute URLs
sub loc_path {
    my ($r) = @_;
    my $l = $r->{h}{location} // die "no Location ($r->{status})\n";
    $l =~ s{^https?://[^/]+}{};
    return $l;
}

sub add_query { my ($p, $q) = @_; return $p . ($p =~ /\?/ ? '&' : '?') . $q }

# push one blob from file; mode mono | chunked | stream.  Seconds.
sub push_blob {
    my ($server, $repo, $path, $size, $digest, $mode) = @_;
    open my $fh, '<:raw', $path or die "$path: $!\n";
    my $sock = conn($PORT{$server});
    my $t0 = time;
    my $r = request($sock, 'POST', "/v2/$repo/blobs/uploads/");
    die "POST: $r->{status} $r->{body}\n" unless $r->{status} == 202;
    my $loc = loc_path($r);

    if ($mode eq 'mono') {
        $r = request($sock, 'PUT', add_query($loc, "digest=$digest"),
            headers => { 'Content-Type' => 'application/octet-stream' },
            file => { fh => $fh, off => 0, len => $size });

    } else {
        if ($mode eq 'chunked') {
            for (my $off = 0; $off < $size; $off += $CHUNK) {
                my $len = $size - $off < $CHUNK ? $size - $off : $CHUNK;
                $r = request($sock, 'PATCH', $loc,
                    headers => { 'Content-Type' => 'application/octet-stream',
                        'Content-Range' => "$off-" . ($off + $len - 1) },
                    file => { fh => $fh, off => $off, len => $len });
                die "PATCH: $r->{status} $r->{body}\n"
                    unless $r->{status} == 202;
                $loc = loc_path($r);
            }
        } else {
            $r = request($sock, 'PATCH', $loc, chunked => 1,
                headers => { 'Content-Type' => 'application/octet-stream' },
                file => { fh => $fh, off => 0, len => $size });
            die "PATCH: $r->{status} $r->{body}\n" unless $r->{status} == 202;
            $loc = loc_path($r);
        }
        $r = request($sock, 'PUT', add_query($loc, "digest=$digest"));
    }
    my $t = time - $t0;
    die "PUT $mode: $r->{status} $r->{body}\n" unless $r->{status} == 201;
    close $sock;
    close $fh;
    return $t;
}

# forget a blob and a repository, so the next push is a real one
sub drop_blob {
    my ($digest, @repos) = @_;
    my $hex = substr($digest, 7);
    remove_tree("$V2/blobs/sha256/" . substr($hex, 0, 2) . "/$hex");
    remove_tree("$V2/repositories/$_") for @repos;
}


# -------------------------------------------------------------------- wrk

sub wrk_unit {
    my ($v, $u) = @_;
    my %m = (us => 1e-3, ms => 1, s => 1000, m => 60000, h => 3600000);
    return $v * $m{$u};
}

sub wrk_bytes {
    my ($v, $u) = @_;
    my %m = (B => 1, KB => 1024, MB => $MiB, GB => 1024 * $MiB,
        TB => 1024 * 1024 * $MiB);
    return $v * $m{$u};
}

# runs wrk; returns { rps, p50, p99 (ms), bps, n, errors }
sub wrk {
    my (%o) = @_;
    my $d = $o{d} || $DUR;
    my $cmd = "wrk -t$o{t} -c$o{c} -d${d}s --latency --timeout 30s";
    $cmd .= " -H '$_'" for @{ $o{headers} || [] };
    $cmd .= " -s $o{script}" if $o{script};
    $cmd .= " '$o{url}' 2>&1";
    my $out = `$cmd`;
    my %r;
    $r{rps} = $1 if $out =~ /Requests\/sec:\s+([\d.]+)/;
    $r{bps} = wrk_bytes($1, $2) if $out =~ /Transfer\/sec:\s+([\d.]+)(\w+)/;
    $r{p50} = wrk_unit($1, $2) if $out =~ /^\s+50%\s+([\d.]+)(\w+)/m;
    $r{p99} = wrk_unit($1, $2) if $out =~ /^\s+99%\s+([\d.]+)(\w+)/m;
    $r{n} = $1 if $out =~ /(\d+) requests in/;
    $r{errors} = 0;
    $r{errors} += $1 if $out =~ /Non-2xx or 3xx responses: (\d+)/;
    $r{errors} += $1 + $2 + $3 + $4
        if $out =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/;
    if (!defined $r{rps} || $r{errors}) {
        push @notes, "wrk $o{url}: " . ($r{errors} // '?')
            . ' errors or no result: ' . join(' | ', grep { /\S/ }
            split /\n/, $out);
    }
    return \%r;
}

# HEAD with hey: wrk 4.1.0 waits for a body after a HEAD answer (fixed
# upstream after 4.1.0).  Returns { rps, p50, p99 (ms), errors }.
sub hey_head {
    my ($url, $c) = @_;
    my $out = `timeout 120 hey -m HEAD -c $c -z ${DUR}s '$url' 2>&1`;
    my %r = (errors => 0);
    $r{rps} = $1 if $out =~ /Requests\/sec:\s+([\d.]+)/;
    $r{p50} = $1 * 1000 if $out =~ /50% in ([\d.]+) secs/;
    $r{p99} = $1 * 1000 if $out =~ /99% in ([\d.]+) secs/;
    while ($out =~ /\[(\d+)\]\s+(\d+) responses/g) {
        $r{errors} += $2 if $1 != 200;
    }
    $r{errors}++ if $out =~ /Error distribution/;
    if (!defined $r{rps} || $r{errors}) {
        push @notes, "hey $url: errors or no result: "
            . join(' | ', grep { /\S/ } split /\n/, $out);
    }
    return \%r;
}

sub url { "http://127.0.0.1:$PORT{$_[0]}$_[1]" }


# ------------------------------------------------------------- reference

sub ref_speeds {
    my (@sha, @dd);
    for (1 .. $RUNS) {
        my $out = `openssl speed -evp sha256 -bytes 8388608 -seconds 2 2>/dev/null`;
        my ($k) = $out =~ /^sha256\s.*?\s([\d.]+)k\s*$/mi;
        push @sha, $k * 1000 if $k;
        push @dd, dd_speed(512 * $MiB);
    }
    return (median(@sha), median(@dd));
}

# bytes/s of writing size bytes to the data's file system and flushing
sub dd_speed {
    my ($size) = @_;
    my $f = "$WORK/dd.tmp";
    my $t0 = time;
    sh("dd if=/dev/zero of=$f bs=8M count=" . int($size / (8 * $MiB))
        . " conv=fdatasync 2>/dev/null");
    my $bps = $size / (time - $t0);
    unlink $f;
    return $bps;
}


# ---------------------------------------------------------------- files

sub make_random {
    my ($path, $size) = @_;
    return if -s $path && -s $path == $size;
    sh("head -c $size /dev/urandom > '$path'");
}

# an OCI layout: busybox plus $IMG_LAYERS gzipped random layers
sub make_image {
    my $dir = "$WORK/image";
    return "$dir" if -f "$dir/index.json";
    remove_tree($dir);
    make_path("$dir/blobs/sha256", "$WORK/rootfs");
    my (@layers, @diffs);
    my $add = sub {
        my ($file, $type) = @_;
        my $d = sha256_file($file);
        rename $file, "$dir/blobs/sha256/" . substr($d, 7) or die "$!\n";
        return { mediaType => $type, digest => $d,
            size => -s "$dir/blobs/sha256/" . substr($d, 7) };
    };
    for my $i (0 .. $IMG_LAYERS) {
        my $root = "$WORK/rootfs/$i";
        make_path("$root/bin", "$root/data");
        if ($i == 0) {
            sh("cp /bin/busybox $root/bin/busybox");
            symlink 'busybox', "$root/bin/$_" for qw(sh ls cat);
        } else {
            sh("head -c $IMG_LAYER /dev/urandom > $root/data/random$i");
        }
        sh("tar --sort=name --owner=0 --group=0 --numeric-owner "
            . "--mtime=\@1704164645 -C $root -cf $WORK/layer.tar .");
        push @diffs, sha256_file("$WORK/layer.tar");
        sh("gzip -n -1 -f $WORK/layer.tar");
        push @layers, $add->("$WORK/layer.tar.gz",
            'application/vnd.oci.image.layer.v1.tar+gzip');
        remove_tree($root);
    }
    my $cfg = $JSON->encode({ architecture => 'amd64', os => 'linux',
        config => { Cmd => ['/bin/sh'] },
        rootfs => { type => 'layers', diff_ids => \@diffs } });
    write_file("$WORK/cfg.json", $cfg);
    my $c = $add->("$WORK/cfg.json",
        'application/vnd.oci.image.config.v1+json');
    write_file("$WORK/man.json", $JSON->encode({ schemaVersion => 2,
        mediaType => $OCI_MANIFEST, config => $c, layers => \@layers }));
    my $m = $add->("$WORK/man.json", $OCI_MANIFEST);
    $m->{annotations} = { 'org.opencontainers.image.ref.name' => 'bench' };
    write_file("$dir/index.json", $JSON->encode({ schemaVersion => 2,
        manifests => [ $m ] }));
    write_file("$dir/oci-layout", '{"imageLayoutVersion":"1.0.0"}');
    return $dir;
}

sub image_digests {
    my ($dir) = @_;
    opendir my $dh, "$dir/blobs/sha256" or die "$!\n";
    return map { "sha256:$_" } grep { /^[0-9a-f]{64}$/ } readdir $dh;
}


# =================================================================== main

die "no module at $MODULE: run make all\n" unless -f $MODULE;
for my $tool (qw(wrk hey curl skopeo openssl docker-registry)) {
    system("command -v $tool >/dev/null") == 0
        or die "$tool is missing (apt-get install it)\n";
}
die "/bin/busybox is missing (busybox-static)\n" unless -x '/bin/busybox';

my @load0 = loadavg();
my $KIND = ($QUICK ? 'QUICK' : 'full')
    . ($ENV{BENCH_ONLY} ? " (only $ENV{BENCH_ONLY})" : '');
say_ "bench: $KIND run, $RUNS runs each, ",
    "wrk ${DUR}s, big blob ", $BIG / $MiB, " MiB, repos @REPOS";
system('rm', '-rf', $DATA, "$WORK/heph", "$WORK/static");
make_path($WORK, $DATA);

say_ "files: random blobs, OCI image layout";
make_random("$WORK/big.bin", $BIG);
make_random("$WORK/mid.bin", $MID);
make_random("$WORK/small.bin", $SMALL);
my %D = map { $_ => sha256_file("$WORK/$_.bin") } qw(big mid small);
my $image = make_image();

say_ "reference: openssl speed -evp sha256, dd conv=fdatasync";
my ($sha_bps, $dd_bps) = ref_speeds();
say_ sprintf "  sha256 %.0f MiB/s, dd fdatasync %.0f MiB/s",
    $sha_bps / $MiB, $dd_bps / $MiB;

start_heph();
my $http = HTTP::Tiny->new(keep_alive => 1, timeout => 120);

# pull data: the small and big blobs, a config, a manifest tagged latest
say_ "seed: pull data through hephaestus";
push_blob('heph', 'bench/pull', "$WORK/small.bin", $SMALL, $D{small}, 'mono');
push_blob('heph', 'bench/pull', "$WORK/big.bin", $BIG, $D{big}, 'mono');
my $cfg = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers",'
    . '"diff_ids":["' . $D{small} . '"]}}';
write_file("$WORK/pull-cfg.json", $cfg);
my $cfg_d = sha256_file("$WORK/pull-cfg.json");
{
    my $s = conn($PORT{heph});
    my $r = request($s, 'POST', "/v2/bench/pull/blobs/uploads/?digest=$cfg_d",
        body => $cfg);
    die "config: $r->{status}\n" unless $r->{status} == 201;
}
my $manifest = $JSON->encode({ schemaVersion => 2, mediaType => $OCI_MANIFEST,
    config => { mediaType => 'application/vnd.oci.image.config.v1+json',
        digest => $cfg_d, size => length $cfg },
    layers => [ { mediaType => 'application/vnd.oci.image.layer.v1.tar',
        digest => $D{small}, size => $SMALL } ] });
my $r = $http->request('PUT', url('heph', '/v2/bench/pull/manifests/latest'),
    { content => $manifest, headers => { 'Content-Type' => $OCI_MANIFEST } });
die "manifest: $r->{status} $r->{content}\n" unless $r->{status} == 201;
my $man_d = $r->{headers}{'docker-content-digest'};
my $man_hex = substr($man_d, 7);
start_static("$V2/blobs/sha256/" . substr($man_hex, 0, 2) . "/$man_hex/data");
start_reg2();

for my $s (qw(heph reg2 static)) {
    for my $p ("/v2/bench/pull/manifests/latest", "/v2/bench/pull/manifests/$man_d",
        "/v2/bench/pull/blobs/$D{small}") {
        my $r = $http->get(url($s, $p), { headers => { Accept => $OCI_MANIFEST } });
        die "$s $p: $r->{status}\n" unless $r->{status} == 200;
    }
}

my @SERVERS = qw(heph reg2 static);
my $hmaster = $PID{heph};
my $idle_kb = rss_now($hmaster);
say_ "idle worker RSS: $idle_kb KiB";

# ------------------------------------------------------------------ pulls

say_ "pull: ", $BIG / $MiB, " MiB blob (curl), 16 x 10 MiB (wrk -c16), Range";
for my $run (want('pull') ? 1 .. $RUNS : ()) {

    # one pull lasts half a second: three per run, the servers taking
    # turns, so that a moment of the shared machine weighs on all alike

    for my $turn (1 .. 3) {
        for my $s (@SERVERS) {
            my $out = sh("curl -s -o /dev/null -w '%{http_code} "
                . "%{speed_download}' "
                . url($s, "/v2/bench/pull/blobs/$D{big}"));
            my ($code, $speed) = split ' ', $out;
            die "$s big pull: $code\n" unless $code == 200;
            record('pull_big', $s, $speed / $MiB);
        }
    }
    for my $s (@SERVERS) {
        my $w = wrk(t => 2, c => 16, url => url($s, "/v2/bench/pull/blobs/$D{small}"));
        record('pull_16', $s, $w->{bps} / $MiB) if $w->{bps};
        $w = wrk(t => 2, c => 16, headers => [ 'Range: bytes=1048576-1114111' ],
            url => url($s, "/v2/bench/pull/blobs/$D{small}"));
        record('range', $s, $w->{rps});
    }
    say_ "  run $run: ", join ', ', map { sprintf '%s %.0f/%.0f/%.0f', $_,
        $res{"pull_big/$_"}[-1] // 0, $res{"pull_16/$_"}[-1] // 0,
        $res{"range/$_"}[-1] // 0 } @SERVERS;
}

# ------------------------------------------- manifests, HEAD, 64 conns

say_ "manifest GET (tag, digest): wrk -t2 -c64 --latency; HEAD blob: hey -c64";
my $load_peak;
for my $run (want('load') ? 1 .. $RUNS : ()) {
    for my $s (@SERVERS) {
        my $smp = $s eq 'heph' ? sampler_start($hmaster, 'load') : undef;
        my %w = (
            man_tag => wrk(t => 2, c => 64, url => url($s,
                '/v2/bench/pull/manifests/latest'),
                headers => [ "Accept: $OCI_MANIFEST" ]),
            man_dig => wrk(t => 2, c => 64, url => url($s,
                "/v2/bench/pull/manifests/$man_d"),
                headers => [ "Accept: $OCI_MANIFEST" ]),
            head => hey_head(url($s, "/v2/bench/pull/blobs/$D{small}"), 64),
        );
        if ($smp) {
            my $p = sampler_stop($smp);
            $load_peak = $p if !defined $load_peak || $p > $load_peak;
        }
        for my $k (keys %w) {
            record($k, $s, $w{$k}{rps});
            record("${k}_p99", $s, $w{$k}{p99});
        }
    }
    say_ "  run $run: ", join ', ', map { my $s = $_; sprintf '%s %s', $s,
        join '/', map { sprintf '%.0f', $res{"$_/$s"}[-1] // 0 }
        qw(man_tag man_dig head) } @SERVERS;
}

# ------------------------------------------------------------------ pushes

say_ "push: monolithic ", $BIG / $MiB, " and ", $MID / $MiB,
    " MiB, 8 MiB chunks, streamed";
my $push_peak;
my @PUSH = ([ 'push_big', 'big', 'mono' ], [ 'push_mid', 'mid', 'mono' ],
    [ 'push_chunk', 'big', 'chunked' ], [ 'push_stream', 'big', 'stream' ]);
for my $run (want('push') ? 1 .. $RUNS : ()) {
    for my $p (@PUSH) {
        my ($w, $f, $mode) = @$p;
        my $size = $f eq 'big' ? $BIG : $MID;

        # the disk's flushed speed moves from one minute to the next on a
        # shared machine: the reference is taken beside each push
        record($w, 'disk', dd_speed($size) / $MiB);

        for my $s (qw(heph reg2)) {
            drop_blob($D{$f}, 'bench/push');
            sh('sync');
            my $smp = $s eq 'heph' && $w eq 'push_big'
                ? sampler_start($hmaster, 'push') : undef;
            my $t = push_blob($s, 'bench/push', "$WORK/$f.bin", $size,
                $D{$f}, $mode);
            if ($smp) {
                my $pk = sampler_stop($smp);
                $push_peak = $pk if !defined $push_peak || $pk > $push_peak;
            }
            record($w, $s, $size / $t / $MiB);
        }
    }
    say_ "  run $run: ", join ', ', map { my $w = $_->[0]; sprintf '%s %.0f/%.0f',
        $w, $res{"$w/heph"}[-1], $res{"$w/reg2"}[-1] } @PUSH;
}
drop_blob($D{$_}, 'bench/push') for qw(big mid);

say_ "push: whole image with skopeo (", $IMG_LAYERS, " x ",
    $IMG_LAYER / $MiB, " MiB + busybox)";
my @img = image_digests($image);
my $img_bytes = 0;
$img_bytes += -s "$image/blobs/sha256/" . substr($_, 7) for @img;
for my $run (want('image') ? 1 .. $RUNS : ()) {
    for my $s (qw(heph reg2)) {
        my $repo = "bench/img-$s-$run";
        drop_blob($_) for @img;
        sh('sync');
        my $t0 = time;
        sh("skopeo copy --quiet --dest-tls-verify=false oci:$image:bench "
            . "docker://127.0.0.1:$PORT{$s}/$repo 2>&1");
        record('skopeo', $s, time - $t0);
        remove_tree("$V2/repositories/$repo");
    }
}
drop_blob($_) for @img;

# ------------------------------------------------- catalog and tags list

my $seed_t0 = time;
my $seeded = 0;
my $seed_req = 0;
my $small_man = $manifest;
for my $n (want('catalog') ? @REPOS : ()) {
    say_ "catalog: seeding to $n repositories x $TAGS tags (API, registry_sync off)";
    my $t0 = time;
    # one keep-alive connection, TCP_NODELAY, each request in one write
    my $sock = conn($PORT{seed});
    while ($seeded < $n) {
        die "seeding took over ${SEED_LIMIT}s\n" if time - $seed_t0 > $SEED_LIMIT;
        my $repo = sprintf 'cat/r%05d', $seeded;
        my $req = sub {
            my $r = request($sock, @_);
            if (lc($r->{h}{connection} // '') eq 'close') {
                close $sock;    # keepalive_requests reached
                $sock = conn($PORT{seed});
            }
            return $r;
        };
        for my $d ($cfg_d, $D{small}) {
            my $r = $req->('POST',
                "/v2/$repo/blobs/uploads/?mount=$d&from=bench/pull");
            die "mount $repo: $r->{status}\n" unless $r->{status} == 201;
        }
        for my $t (0 .. $TAGS - 1) {
            my $r = $req->('PUT', "/v2/$repo/manifests/t$t",
                body => $small_man,
                headers => { 'Content-Type' => $OCI_MANIFEST });
            die "tag $repo: $r->{status}\n" unless $r->{status} == 201;
        }
        $seed_req += 2 + $TAGS;
        $seeded++;
    }
    close $sock;
    my $el = time - $t0;
    push @notes, sprintf('seeding to %d repositories: %.1f s', $n, $el);
    sh('sync');

    for my $run (1 .. $RUNS) {
        for my $s (qw(heph reg2 seed)) {
            for my $q ([ 'catalog', '/v2/_catalog?n=1000' ],
                [ 'tags', '/v2/cat/r00000/tags/list' ]) {
                my ($k, $p) = @$q;

                # the seeding server keeps no list: the folders' cost
                next if $s eq 'seed' && $k ne 'catalog';
                my $w = wrk(t => 1, c => 1, d => $DUR > 3 ? 3 : $DUR,
                    url => url($s, $p));
                my $lat = $w->{p50};
                if (!$w->{n} || $w->{n} < 3) {
                    # too slow for wrk's window: a few curl requests
                    my @t = map { (split ' ', sh("curl -s -o /dev/null -w "
                        . "'%{http_code} %{time_total}' '" . url($s, $p) . "'"))[1]
                        * 1000 } 1 .. 3;
                    $lat = median(@t);
                }
                my $rk = $s eq 'seed' ? "${k}_walk_$n" : "${k}_$n";
                my $rs = $s eq 'seed' ? 'heph' : $s;
                record($rk, $rs, $lat);
                record("${rk}_p99", $rs, $w->{p99});
            }
        }
    }
    say_ sprintf "  %d repos: catalog %.2f/%.2f ms, tags %.2f/%.2f ms "
        . "(heph/registry:2 medians)", $n, map { med(@$_) // -1 }
        [ "catalog_$n", 'heph' ], [ "catalog_$n", 'reg2' ],
        [ "tags_$n", 'heph' ], [ "tags_$n", 'reg2' ];
}
push @notes, sprintf('seeding: %d requests in %.1f s (%.0f req/s) through '
    . 'the API (registry_sync off), one keep-alive connection, cross-repository '
    . 'mounts and 10 tag PUTs per repository', $seed_req, time - $seed_t0,
    $seed_req / (time - $seed_t0 || 1));

my $after_kb = rss_now($hmaster);
stop_all();

# ------------------------------------------------------------------ table

my @rows;
my ($met, $total) = (0, 0);
sub fmt { my ($v, $f) = @_; defined $v ? sprintf($f // '%.0f', $v) : '-' }

# row(label, unit, key, fmt, ratio, target text, ok)
sub row {
    my (%o) = @_;
    my $result = '';
    my $v = $o{key} ? med($o{key}, 'heph') : $o{v}{heph};
    if (!defined $v) {
        $result = 'not run';
    } elsif (defined $o{ok}) {
        $total++;
        $met++ if $o{ok};
        $result = $o{ok} ? 'met' : '**not met**';
    }
    push @rows, sprintf '| %s | %s | %s | %s | %s | %s | %s | %s |',
        $o{label}, $o{unit},
        (map { fmt($o{key} ? med($o{key}, $_) : $o{v}{$_}, $o{fmt}) }
            qw(heph reg2 static)),
        defined $o{ratio} ? sprintf('%.2f', $o{ratio}) : '',
        $o{target} // '', $result;
}

sub ratio { my ($x, $y) = @_; defined $x && defined $y && $y != 0 ? $x / $y : undef }

my $big_label = $BIG / $MiB >= 1024 ? ($BIG / $MiB / 1024) . ' GiB' : ($BIG / $MiB) . ' MiB';
my $mid_label = $MID / $MiB . ' MiB';

for my $p ([ 'pull_big', "pull one $big_label blob (curl)", 'MiB/s' ],
    [ 'pull_16', 'pull 10 MiB blob, 16 connections (wrk)', 'MiB/s' ],
    [ 'range', 'Range 64 KiB of 10 MiB blob, 16 conns', 'req/s' ]) {
    my ($k, $label, $unit) = @$p;
    my $q = ratio(med($k, 'heph'), med($k, 'static'));
    row(label => $label, unit => $unit, key => $k, ratio => $q,
        target => '>= 0.95 x static', ok => defined $q && $q >= 0.95);
}
for my $p ([ 'man_tag', 'manifest GET by tag, 64 conns' ],
    [ 'man_dig', 'manifest GET by digest, 64 conns' ],
    [ 'head', 'HEAD blob, 64 conns (hey)' ]) {
    my ($k, $label) = @$p;
    my $q = ratio(med($k, 'heph'), med($k, 'static'));
    row(label => $label, unit => 'req/s', key => $k, ratio => $q,
        target => '>= 0.70 x static', ok => defined $q && $q >= 0.70);
    my $l = ratio(med("${k}_p99", 'heph'), med("${k}_p99", 'static'));
    row(label => "$label: p99", unit => 'ms', key => "${k}_p99", fmt => '%.2f',
        ratio => $l, target => '<= 2 x static', ok => defined $l && $l <= 2);
}
for my $p ([ 'push_big', "push $big_label, one PUT", 0.80 ],
    [ 'push_mid', "push $mid_label, one PUT", 0.80 ],
    [ 'push_chunk', "push $big_label, 8 MiB PATCHes", 0.75 ],
    [ 'push_stream', "push $big_label, streamed PATCH", 0.75 ]) {
    my ($k, $label, $t) = @$p;
    my $disk = med($k, 'disk');
    my $ref = defined $disk && $disk * $MiB < $sha_bps ? $disk
        : $sha_bps / $MiB;
    my $q = ratio(med($k, 'heph'), $ref);
    row(label => $label, unit => 'MiB/s', key => $k, ratio => $q,
        target => sprintf('>= %.2f x ref %.0f', $t, $ref),
        ok => defined $q && $q >= $t);
}
row(label => sprintf('push image with skopeo (%.0f MiB, %d blobs)',
    $img_bytes / $MiB, scalar @img), unit => 's', key => 'skopeo',
    fmt => '%.2f', ratio => ratio(med('skopeo', 'heph'), med('skopeo', 'reg2')),
    target => '(ratio vs registry:2)');
for my $n (@REPOS) {
    my $lim = $n >= 10000 ? 20 : 5;
    my $c = med("catalog_$n", 'heph');
    row(label => "catalog n=1000, $n repos (median)", unit => 'ms',
        key => "catalog_$n", fmt => '%.2f',
        ratio => ratio($c, med("catalog_$n", 'reg2')),
        target => "< $lim ms", ok => defined $c && $c < $lim);
    row(label => "catalog n=1000, $n repos, folders read each time "
        . '(registry_catalog_cache 0)', unit => 'ms',
        key => "catalog_walk_$n", fmt => '%.2f');
    my $t = med("tags_$n", 'heph');
    row(label => "tags list (10 tags), $n repos (median)", unit => 'ms',
        key => "tags_$n", fmt => '%.2f',
        ratio => ratio($t, med("tags_$n", 'reg2')),
        target => '< 2 ms', ok => defined $t && $t < 2);
}
for my $p ([ "worker RSS peak, $big_label push", $push_peak ],
    [ 'worker RSS peak, 64-connection load', $load_peak ]) {
    my ($label, $kb) = @$p;
    my $g = defined $kb ? ($kb - $idle_kb) / 1024 : undef;
    row(label => "$label (idle " . sprintf('%.1f', $idle_kb / 1024) . ' MiB)',
        unit => 'MiB', v => { heph => defined $kb ? $kb / 1024 : undef },
        fmt => '%.1f', target => sprintf('growth %s < 32 MiB', fmt($g, '%.1f')),
        ok => defined $g && $g < 32);
}

my @load1 = loadavg();
my $md = "# Hephaestus benchmark\n\n"
    . sprintf("%s, %s run, %d runs per workload (median), wrk %d s, "
    . "%d CPUs, load average %s at start, %s at end; %.0f s in all.\n\n",
    strftime('%Y-%m-%d %H:%M:%S', localtime), $KIND,
    $RUNS, $DUR, scalar(() = read_file('/proc/cpuinfo') =~ /^processor/mg),
    "@load0", "@load1", time - $t_start)
    . sprintf("Reference for pushes: min(openssl speed -evp sha256 %.0f MiB/s, "
    . "dd conv=fdatasync of the same size run just before each push, median "
    . "of the runs; %.0f MiB/s at the start). Hephaestus with "
    . "registry_sync on; the ratio is hephaestus / static nginx, / the "
    . "reference, or / registry:2. Ratio for latencies: hephaestus / other.\n\n",
    $sha_bps / $MiB, $dd_bps / $MiB)
    . "| workload | unit | hephaestus | registry:2 | static nginx | ratio | target | result |\n"
    . "|---|---|---|---|---|---|---|---|\n"
    . join("\n", @rows) . "\n\n"
    . "Targets met: $met of $total.\n\n"
    . "Notes:\n\n" . join('', map { "- $_\n" } 
    'all servers 2 worker processes (registry:2: Go, GOMAXPROCS default); '
    . 'access logs off; clients share the same CPUs as the servers',
    'registry:2 has no blobdescriptor cache configured and never fsyncs',
    "worker RSS idle $idle_kb KiB, after all workloads $after_kb KiB",
    @notes);

write_file("$OUT/results.md", $md);
print "\n$md";
system('rm', '-rf', $WORK) unless $ENV{BENCH_KEEP};   # faster than remove_tree
exit 0;
