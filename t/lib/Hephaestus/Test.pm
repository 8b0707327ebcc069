package Hephaestus::Test;

# The integration test harness: starts Debian's nginx with the registry
# module (or, with TEST_TARGET=registry2, Debian's docker-registry) on a
# free loopback port over a temporary data folder, and offers HTTP, JSON
# and on-disk helpers to the t/*.t files.
#
# Knobs: TEST_NGINX_BINARY (default /usr/sbin/nginx), TEST_REGISTRY_MODULE
# (default build/nginx/ngx_http_registry_module.so under the repository
# top), TEST_NGINX_LEAVE=1 (keep the temporary folder), TEST_TARGET
# (nginx, the default, or registry2 to check the tests' client side
# against Debian's docker-registry).

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Find ();
use File::Path qw(make_path);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(hdr json_of json_text sha256_digest oci_error_is add_query
    write_file read_file);
our %EXPORT_TAGS = (all => \@EXPORT_OK);

our $TOP = abs_path(dirname(__FILE__) . '/../../..');

my @LIVE;      # objects whose servers may still run


###########################################################################
# construction and servers

# new(%opt): opt keys
#   location => text    replaces the body of "location /v2/ { ... }"
#   extra_location => text  appended inside the default location
#   servers => text     more server blocks inside http {}; %%PORT2%%,
#                       %%PORT3%%, %%DATA%%, %%TESTDIR%% are replaced
#   main => text        more main-level directives
#   http => text        more http-level directives
#   expect_log => [qr/../]  [alert]/[crit] lines the test expects
#   bare_data => 1      leave the data folder empty (as root, it is
#                       otherwise given docker/registry/v2 owned by the
#                       worker user)
#   workers => n        worker_processes (default 2)

sub new {
    my ($class, %opt) = @_;

    my $self = bless {
        opt => \%opt,
        target => $ENV{TEST_TARGET} || 'nginx',
        expect_log => $opt{expect_log} || [],
    }, $class;

    $self->{dir} = tempdir('heph-t-XXXXXX', TMPDIR => 1,
        CLEANUP => !$ENV{TEST_NGINX_LEAVE});
    $self->{data} = "$self->{dir}/data";
    make_path($self->{data});
    chmod 0755, $self->{dir};

    # as root, the workers (and docker-registry) run as an unprivileged
    # user, as in production: the data folder must be theirs.

    if ($> == 0) {
        my $user = $ENV{TEST_NGINX_USER} || 'nobody';
        my $group = getgrnam('nogroup') ? 'nogroup' : $user;
        $self->{user} = [ $user, $group ];

        # the folders the store opens at start-up are made here unless the
        # test checks that the module makes them itself (bare_data)

        make_path("$self->{data}/docker/registry/v2") unless $opt{bare_data};
        $self->chown_data($self->{data});
    }

    if ($self->{target} eq 'nginx') {
        $self->{nginx} = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
        $self->{module} = $ENV{TEST_REGISTRY_MODULE}
            || "$TOP/build/nginx/ngx_http_registry_module.so";
        $self->{module} = abs_path($self->{module}) || $self->{module};

        unless (-f $self->{module}) {

            # CI must not pass without the module: fail, do not skip.

            fail("registry module $self->{module} exists");
            diag('build it with "make module" or set TEST_REGISTRY_MODULE');
            done_testing();
            exit 1;
        }

    } elsif ($self->{target} ne 'registry2') {
        BAIL_OUT("unknown TEST_TARGET $self->{target}");
    }

    $self->{ports} = [ map { free_port() } 1 .. 3 ];
    $self->{ua} = HTTP::Tiny->new(
        agent => 'hephaestus-tests/1', max_redirect => 0,
        timeout => 120, keep_alive => 1);

    push @LIVE, $self;
    diag("test folder $self->{dir}") if $ENV{TEST_NGINX_LEAVE};
    return $self;
}


sub is_nginx    { $_[0]{target} eq 'nginx' }
sub dir         { $_[0]{dir} }
sub data        { $_[0]{data} }
sub port        { my ($self, $i) = @_; $self->{ports}[($i || 1) - 1] }
sub base        { my ($self, $i) = @_; 'http://127.0.0.1:' . $self->port($i) }
sub host        { my ($self, $i) = @_; '127.0.0.1:' . $self->port($i) }
sub pid         { $_[0]{pid} }
sub error_log   { "$_[0]{dir}/error.log" }
sub ua          { $_[0]{ua} }


sub user_line {
    my ($self) = @_;
    return '' unless $self->{user};
    return "user @{ $self->{user} };";
}


# chown_data(folder): make a data folder the workers'.

sub chown_data {
    my ($self, $dir) = @_;
    return unless $self->{user};
    my ($uid, $gid) = ((getpwnam $self->{user}[0])[2],
        (getgrnam $self->{user}[1])[2]);
    File::Find::find({ no_chdir => 1, wanted => sub {
        chown $uid, $gid, $File::Find::name;
    } }, $dir);
}


sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a loopback port: $!\n";
    my $port = $s->sockport;
    close $s;
    return $port;
}


sub nginx_conf {
    my ($self) = @_;
    my $o = $self->{opt};
    my ($dir, $data) = ($self->{dir}, $self->{data});

    my $loc = defined $o->{location} ? $o->{location} : <<"EOF";
            registry on;
            registry_root $data;
            registry_delete on;
            client_max_body_size 0;
EOF
    $loc .= $o->{extra_location} || '';

    my $conf = <<"EOF";
load_module $self->{module};
daemon off;
master_process on;
@{[ $self->user_line ]}
worker_processes @{[ $o->{workers} || 2 ]};
pid $dir/nginx.pid;
error_log $dir/error.log info;
@{[ $o->{main} || '' ]}
events {
    worker_connections 256;
}

http {
    access_log $dir/access.log;
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    @{[ $o->{http} || '' ]}

    server {
        listen 127.0.0.1:%%PORT1%%;
        server_name localhost;

        location /v2/ {
$loc
        }

        location / {
            return 404 "outside\\n";
        }
    }

@{[ $o->{servers} || '' ]}
}
EOF

    for my $i (1 .. 3) {
        my $p = $self->port($i);
        $conf =~ s/%%PORT$i%%/$p/g;
    }
    $conf =~ s/%%DATA%%/$data/g;
    $conf =~ s/%%TESTDIR%%/$dir/g;
    $conf =~ s/%%MODULE%%/$self->{module}/g;
    return $conf;
}


sub registry2_conf {
    my ($self, $data, $port) = @_;
    $data //= $self->{data};
    $port //= $self->port(1);
    return <<"EOF";
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
  secret: hephaestus-test-secret
EOF
}


# run(): start the server and wait until its port answers.

sub run {
    my ($self) = @_;
    my ($dir, @cmd) = ($self->{dir});

    if ($self->is_nginx) {
        write_file("$dir/nginx.conf", $self->nginx_conf);
        @cmd = ($self->{nginx}, '-p', "$dir/", '-c', "$dir/nginx.conf",
            '-e', "$dir/error.log");

    } else {
        write_file("$dir/config.yml", $self->registry2_conf);
        @cmd = ('docker-registry', 'serve', "$dir/config.yml");
    }

    $self->{pid} = spawn(\@cmd, "$dir/server.out");
    $self->{owner} = $$;
    $self->{started} = time;

    my @ports = ($self->port(1));
    push @ports, $self->port(2)
        if $self->is_nginx && ($self->{opt}{servers} || '') =~ /%%PORT2%%/;

    for my $port (@ports) {
        next if wait_port($port, 15, $self->{pid});
        diag("server did not answer on 127.0.0.1:$port; its output:");
        diag(read_file("$dir/server.out") // '');
        diag(read_file("$dir/error.log") // '') if $self->is_nginx;
        $self->kill_server;
        BAIL_OUT('cannot start the server under test') if $ENV{TEST_BAIL};
        fail('server starts');
        done_testing();
        exit 1;
    }

    return $self;
}


# start_registry2(data, port): Debian's docker-registry on another data
# folder and port, stopped with the server under test; returns its pid.

sub start_registry2 {
    my ($self, $data, $port) = @_;
    my $dir = $self->{dir};
    my $n = ++$self->{n_extra};
    make_path($data);
    $self->chown_data($data);
    write_file("$dir/registry2-$n.yml", $self->registry2_conf($data, $port));
    my @as = $self->{user} ? ('setpriv', "--reuid=$self->{user}[0]",
        "--regid=$self->{user}[1]", '--clear-groups') : ();
    my $pid = spawn([ @as, 'docker-registry', 'serve',
        "$dir/registry2-$n.yml" ], "$dir/registry2-$n.out");
    push @{ $self->{extra_pids} }, $pid;
    $self->{owner} //= $$;

    unless (wait_port($port, 15, $pid)) {
        diag(read_file("$dir/registry2-$n.out") // '');
        return undef;
    }

    return $pid;
}


sub spawn {
    my ($cmd, $out) = @_;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(PIPE INT TERM HUP);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec @$cmd or POSIX::_exit(127);
    }

    return $pid;
}


# wait_port(port, seconds, pid): 1 once something accepts on the port;
# 0 on timeout or when the process pid has gone.

sub wait_port {
    my ($port, $secs, $pid) = @_;
    my $end = time + $secs;

    while (time < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $port, Proto => 'tcp', Timeout => 1);
        if ($s) {
            close $s;
            return 1;
        }
        return 0 if $pid && waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }

    return 0;
}


# stop_pid(pid, seconds): TERM, wait (bounded), then KILL.

sub stop_pid {
    my ($pid, $secs) = @_;
    return unless $pid;
    kill 'TERM', $pid;
    my $end = time + ($secs || 20);

    while (time < $end) {
        my $r = waitpid($pid, WNOHANG);
        return 1 if $r == $pid || $r == -1;
        sleep 0.05;
    }

    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}


sub kill_server {
    my ($self) = @_;
    stop_pid($_, 20) for @{ delete $self->{extra_pids} || [] };
    return unless $self->{pid};
    my $pid = delete $self->{pid};
    my $workers = $self->worker_pids($pid);
    stop_pid($pid, 20);

    # a worker left behind by a crashed master would keep the port

    kill 'KILL', grep { kill 0, $_ } @$workers;
}


# stop(): stop the server and check error.log; a test of its own.

sub stop {
    my ($self) = @_;
    $self->kill_server;
    $self->check_log if $self->is_nginx;
    return $self;
}


# restart(): a fresh server (a new master) over the same data folder.

sub restart {
    my ($self) = @_;
    $self->kill_server;
    $self->{ua} = HTTP::Tiny->new(
        agent => 'hephaestus-tests/1', max_redirect => 0,
        timeout => 120, keep_alive => 1);
    return $self->run;
}


sub expect_log {
    my ($self, @re) = @_;
    push @{ $self->{expect_log} }, @re;
}


sub log_lines {
    my ($self, $re) = @_;
    my $log = read_file($self->error_log) // '';
    return grep { /$re/ } split /\n/, $log;
}


sub check_log {
    my ($self) = @_;
    my @bad;

    for my $line ($self->log_lines(qr/\[(?:alert|crit|emerg)\]/)) {
        next if grep { $line =~ $_ } @{ $self->{expect_log} };
        push @bad, $line;
    }

    ok(!@bad, 'no unexpected alert or crit in error.log')
        or diag(join "\n", @bad[0 .. ($#bad > 20 ? 20 : $#bad)]);
}


sub worker_pids {
    my ($self, $master) = @_;
    $master //= $self->{pid};
    return [] unless $master;
    my @kids;

    opendir(my $dh, '/proc') or return [];
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $st = read_file("/proc/$p/stat") // next;
        push @kids, $p if $st =~ /^\d+ \(.*\) \S+ (\d+)/ && $1 == $master;
    }
    closedir $dh;

    return \@kids;
}


END {
    for my $t (@LIVE) {
        $t->kill_server if ($t->{pid} || $t->{extra_pids})
            && $t->{owner} == $$;
    }
}


# a test interrupted by a signal still stops its servers: exit() runs the
# END blocks.  A closed output pipe does not stop the test at all.

for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub { exit 1 };
}
$SIG{PIPE} = 'IGNORE';


###########################################################################
# HTTP

# req(METHOD, path, %opt): opt headers => {...}, body => string or code
# (a code body without content-length goes chunked), data_callback.
# A path may also be a full URL (a Location from registry:2).

sub req {
    my ($self, $method, $path, %opt) = @_;
    my $url = $path =~ m{^https?://} ? $path : $self->base($opt{port}) . $path;
    my %h = %{ $opt{headers} || {} };
    my %args = (headers => \%h);

    if (defined $opt{body}) {
        $args{content} = $opt{body};
    }

    if ((!defined $opt{body} || (!ref $opt{body} && !length $opt{body}))
        && $method =~ /^(?:POST|PUT|PATCH)$/)
    {
        $h{'content-length'} = 0 unless grep { lc eq 'content-length' } keys %h;
        delete $args{content};
    }

    $args{data_callback} = $opt{data_callback} if $opt{data_callback};

    my $res = $self->{ua}->request($method, $url, \%args);
    $res->{method} = $method;
    if ($res->{status} == 599) {
        diag("$method $path: $res->{content}");
    }
    return $res;
}

sub get     { my $s = shift; $s->req('GET', @_) }
sub head    { my $s = shift; $s->req('HEAD', @_) }
sub put     { my $s = shift; $s->req('PUT', @_) }
sub post    { my $s = shift; $s->req('POST', @_) }
sub patch   { my $s = shift; $s->req('PATCH', @_) }
sub delete  { my $s = shift; $s->req('DELETE', @_) }


# raw(text or [lines], body): one request on a fresh connection, sent as
# given (no header added), answered as { status, headers, content }.
# body may be a code ref: it is sent chunked (add the header yourself).

sub raw {
    my ($self, $head, $body, %opt) = @_;
    $head = join("\r\n", @$head) . "\r\n\r\n" if ref $head eq 'ARRAY';

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->port($opt{port}), Proto => 'tcp', Timeout => 10)
        or return { status => 599, headers => {}, content => "connect: $!" };

    local $SIG{PIPE} = 'IGNORE';
    print $s $head;

    if (ref $body eq 'CODE') {
        for (1 .. 100000) {
            my $c = $body->();
            last unless defined $c && length $c;
            printf $s "%x\r\n%s\r\n", length $c, $c;
        }
        print $s "0\r\n\r\n";

    } elsif (defined $body) {
        print $s $body;
    }

    my $buf = '';
    my $end = time + ($opt{timeout} || 10);
    $s->blocking(1);

    while (time < $end) {
        my $rin = '';
        vec($rin, fileno($s), 1) = 1;
        last unless select(my $rout = $rin, undef, undef, 1) >= 0;
        next unless vec($rout, fileno($s), 1);
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
        last if $head =~ /^HEAD / && $buf =~ /\r\n\r\n/;
    }

    close $s;
    return parse_response($buf, $head =~ /^HEAD /);
}


sub parse_response {
    my ($buf, $is_head) = @_;
    my ($h, $body) = split /\r\n\r\n/, $buf, 2;
    return { status => 599, headers => {}, content => $buf }
        unless defined $h && $h =~ m{^HTTP/1\.\d (\d{3})};

    my $res = { status => $1, headers => {}, content => $body // '' };
    my @lines = split /\r\n/, $h;
    shift @lines;

    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $k = lc $k;
        if (exists $res->{headers}{$k}) {
            $res->{headers}{$k} = [ ref $res->{headers}{$k}
                ? @{ $res->{headers}{$k} } : $res->{headers}{$k}, $v ];
        } else {
            $res->{headers}{$k} = $v;
        }
    }

    if (!$is_head && (hdr($res, 'transfer-encoding') // '') =~ /chunked/i) {
        my ($in, $out) = ($res->{content}, '');
        while ($in =~ s/^([0-9a-fA-F]+)[^\r]*\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $out .= substr($in, 0, $n, '');
            $in =~ s/^\r\n//;
        }
        $res->{content} = $out;
    }

    $res->{method} = $is_head ? 'HEAD' : '';
    return $res;
}


# hdr(res, name): a header's value; several lines are joined with ", ".

sub hdr {
    my ($res, $name) = @_;
    my $v = $res->{headers}{ lc $name };
    return $v unless ref $v;
    return join ', ', @$v;
}


sub json_of {
    my ($res) = @_;
    my $c = ref $res ? $res->{content} : $res;
    my $j = eval { JSON::PP->new->decode($c // '') };
    return ref $j ? $j : {};
}


sub json_text {
    return JSON::PP->new->canonical->encode($_[0]);
}


sub sha256_digest {
    return 'sha256:' . sha256_hex($_[0]);
}


# oci_error_is(res, status, code, name): one OCI error answer.

sub oci_error_is {
    my ($res, $status, $code, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    subtest $name => sub {
        is($res->{status}, $status, 'status');
        is(hdr($res, 'docker-distribution-api-version'), 'registry/2.0',
            'api version header');
        is(hdr($res, 'content-type'), 'application/json; charset=utf-8',
            'content type');

        if (($res->{method} // '') eq 'HEAD') {
            is($res->{content} // '', '', 'no body on HEAD');
            return;
        }

        my $j = json_of($res);
        ok(ref $j eq 'HASH' && ref $j->{errors} eq 'ARRAY'
            && @{ $j->{errors} }, 'errors list')
            or diag("body: " . substr($res->{content} // '', 0, 300));
        is(eval { $j->{errors}[0]{code} }, $code, "code $code");
        ok(defined eval { $j->{errors}[0]{message} }, 'message');
    };
}


###########################################################################
# registry flows

# location(res): the Location as a path or URL usable with req().

sub location {
    my ($res) = @_;
    return hdr($res, 'location');
}


sub add_query {
    my ($loc, $q) = @_;
    return $loc . ($loc =~ /\?/ ? '&' : '?') . $q;
}


# upload_start(repo): POST; returns (response, location).

sub upload_start {
    my ($self, $repo) = @_;
    my $res = $self->post("/v2/$repo/blobs/uploads/");
    return ($res, location($res));
}


# push_blob(repo, bytes): POST, one PATCH, PUT ?digest=; a test of its
# own; returns the digest.

sub push_blob {
    my ($self, $repo, $bytes, $name) = @_;
    my $digest = sha256_digest($bytes);
    my ($res, $loc) = $self->upload_start($repo);

    if ($res->{status} == 202 && $loc) {
        $res = $self->patch($loc, body => $bytes) if length $bytes;
        $loc = location($res) || $loc if $res->{status} == 202;
        $res = $self->put(add_query($loc, "digest=$digest"))
            if $res->{status} == 202;
    }

    is($res->{status}, 201, $name || "push blob $repo "
        . substr($digest, 7, 12))
        or diag("answer: $res->{status} "
            . substr($res->{content} // '', 0, 300));
    return $digest;
}


# push_file_blob(repo, path): like push_blob, the body streamed from a file.

sub push_file_blob {
    my ($self, $repo, $path, $digest) = @_;
    my ($res, $loc) = $self->upload_start($repo);
    open(my $fh, '<:raw', $path) or die "$path: $!\n";
    my $size = -s $path;

    if ($res->{status} == 202) {
        $res = $self->patch($loc, headers => { 'content-length' => $size },
            body => sub { my $n = read($fh, my $b, 1 << 20); $n ? $b : '' });
        $loc = location($res) || $loc;
        $res = $self->put(add_query($loc, "digest=$digest"))
            if $res->{status} == 202;
    }

    close $fh;
    is($res->{status}, 201, "push blob $repo " . substr($digest, 7, 12));
    return $digest;
}


# put_manifest(repo, ref, bytes, type): returns the response.

sub put_manifest {
    my ($self, $repo, $ref, $bytes, $type) = @_;
    return $self->put("/v2/$repo/manifests/$ref",
        headers => { 'content-type' => $type }, body => $bytes);
}


# push_image(repo, tag, image): blobs then manifest (from Images.pm).

sub push_image {
    my ($self, $repo, $tag, $img) = @_;

    for my $b (@{ $img->{blobs} }) {
        $self->push_file_blob($repo, $b->{path}, $b->{digest});
    }

    for my $c (@{ $img->{children} || [] }) {
        $self->push_image($repo, $c->{digest}, $c);
    }

    my $res = $self->put_manifest($repo, $tag, $img->{manifest},
        $img->{media_type});
    is($res->{status}, 201, "push manifest $repo:$tag")
        or diag("answer: $res->{status} "
            . substr($res->{content} // '', 0, 300));
    return $res;
}


###########################################################################
# on-disk layout of registry:2

sub v2       { "$_[0]{data}/docker/registry/v2" }

sub hex_of {
    my ($d) = @_;
    my ($alg, $hex) = split /:/, $d, 2;
    return ($alg, $hex);
}

sub blob_data {
    my ($self, $d) = @_;
    my ($alg, $hex) = hex_of($d);
    return $self->v2 . "/blobs/$alg/" . substr($hex, 0, 2) . "/$hex/data";
}

sub repo_dir {
    my ($self, $repo) = @_;
    return $self->v2 . "/repositories/$repo";
}

sub layer_link {
    my ($self, $repo, $d) = @_;
    my ($alg, $hex) = hex_of($d);
    return $self->repo_dir($repo) . "/_layers/$alg/$hex/link";
}

sub revision_link {
    my ($self, $repo, $d) = @_;
    my ($alg, $hex) = hex_of($d);
    return $self->repo_dir($repo) . "/_manifests/revisions/$alg/$hex/link";
}

sub tag_link {
    my ($self, $repo, $tag) = @_;
    return $self->repo_dir($repo) . "/_manifests/tags/$tag/current/link";
}

sub tag_dir {
    my ($self, $repo, $tag) = @_;
    return $self->repo_dir($repo) . "/_manifests/tags/$tag";
}

sub tag_index_link {
    my ($self, $repo, $tag, $d) = @_;
    my ($alg, $hex) = hex_of($d);
    return $self->tag_dir($repo, $tag) . "/index/$alg/$hex/link";
}

sub upload_dir {
    my ($self, $repo, $uuid) = @_;
    return $self->repo_dir($repo) . '/_uploads'
        . (defined $uuid ? "/$uuid" : '');
}


# snapshot(ignore_uploads => 1): { relative path => size or 'dir' }.

sub snapshot {
    my ($self, %opt) = @_;
    my %snap;
    my $root = $self->{data};

    File::Find::find({ no_chdir => 1, wanted => sub {
        my $rel = File::Spec->abs2rel($File::Find::name, $root);
        return if $rel eq '.';
        if ($opt{ignore_uploads} && $rel =~ m{(?:^|/)_uploads(?:/|$)}) {
            $File::Find::prune = 1 if -d $File::Find::name;
            return;
        }
        $snap{$rel} = -d $File::Find::name ? 'dir' : -s _;
    } }, $root);

    return \%snap;
}


# snapshot_is(before, name, %opt): nothing changed on disk.

sub snapshot_is {
    my ($self, $before, $name, %opt) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $now = $self->snapshot(%opt);
    my @diff;

    for my $k (sort keys %{ { %$before, %$now } }) {
        my ($a, $b) = ($before->{$k} // 'absent', $now->{$k} // 'absent');
        push @diff, "$k: $a -> $b" if $a ne $b;
    }

    ok(!@diff, $name)
        or diag(join "\n", @diff[0 .. ($#diff > 20 ? 20 : $#diff)]);
}


# store_problems(allow_tmp => 1): every file under v2 that is not a whole
# published object or an upload session's file: a blob data file whose
# sha256 is not its folder's name, a link that does not hold its folder's
# full digest or points to a missing blob or revision, a file of no known
# kind.  Hidden temporary files (.NAME.tmp-*, .trash-*) are problems too
# unless allow_tmp (a killed worker cannot remove its own).  Returns the
# list of problems, each a line of text.

sub store_problems {
    my ($self, %opt) = @_;
    my $v2 = $self->v2;
    my $dig = qr/(sha256|sha512):([0-9a-f]+)/;
    my (@bad, @files);

    return ("no folder $v2") unless -d $v2;

    File::Find::find({ no_chdir => 1, wanted => sub {
        return if -d $File::Find::name;
        push @files, File::Spec->abs2rel($File::Find::name, $v2);
    } }, $v2);

    my $full = sub {
        my ($text) = @_;
        return defined $text && $text =~ /^$dig$/
            && length($2) == ($1 eq 'sha256' ? 64 : 128);
    };

    my $blob_ok = sub {
        my ($d) = @_;
        my ($alg, $hex) = hex_of($d);
        return -f "$v2/blobs/$alg/" . substr($hex, 0, 2) . "/$hex/data";
    };

    for my $rel (sort @files) {
        my $path = "$v2/$rel";
        my $name = (split m{/}, $rel)[-1];

        if ($name =~ /^\.(?:.+\.tmp-[0-9a-f]+|trash-[0-9a-f]+)$/
            || $rel =~ m{/\.trash-[0-9a-f]+/})
        {
            push @bad, "temporary file $rel" unless $opt{allow_tmp};
            next;
        }

        if ($rel =~ m{^blobs/(sha256|sha512)/([0-9a-f]{2})/([0-9a-f]+)/data$}x)
        {
            my ($alg, $pre, $hex) = ($1, $2, $3);
            my $sha = Digest::SHA->new($alg eq 'sha256' ? 256 : 512);
            my $got = $sha->addfile($path, 'b')->hexdigest;
            push @bad, "blob $rel hashes to $got"
                if $got ne $hex || substr($hex, 0, 2) ne $pre;
            next;
        }

        next if $rel =~ m{^repositories/.+?/_uploads/[0-9a-f-]+/
            (?:data|startedat|heph-state)$}x;

        # the journal of new repositories: each line a repository here
        if ($rel eq 'heph-repositories') {
            for my $line (split /\n/, read_file($path) // '') {
                next if $line eq '';
                push @bad, "heph-repositories names '$line'"
                    unless $line =~ m{^[a-z0-9][a-z0-9._/-]*$}
                    && -d "$v2/repositories/$line/_manifests";
            }
            next;
        }

        my $link = read_file($path);

        if ($rel =~ m{^repositories/.+?/(?:_layers|_manifests/revisions
                |_manifests/tags/[^/]+/index|_referrers/(?:sha256|sha512)
                /[0-9a-f]+)/(sha256|sha512)/([0-9a-f]+)/link$}x)
        {
            if (($link // '') ne "$1:$2") {
                push @bad, "link $rel holds '" . ($link // 'nothing') . "'";
            } elsif (!$blob_ok->($link)) {
                push @bad, "link $rel names a missing blob";
            }
            next;
        }

        if ($rel =~ m{^(repositories/.+?)/_manifests/tags/[^/]+/current/link$}x)
        {
            my $repo = $1;
            if (!$full->($link)) {
                push @bad, "tag link $rel holds '"
                    . ($link // 'nothing') . "'";
            } elsif (!$blob_ok->($link)) {
                push @bad, "tag link $rel names a missing blob";
            } else {
                my ($alg, $hex) = hex_of($link);
                push @bad, "tag link $rel names a missing revision" unless
                    -f "$v2/$repo/_manifests/revisions/$alg/$hex/link";
            }
            next;
        }

        push @bad, "unknown file $rel";
    }

    return @bad;
}


sub link_is {
    my ($path, $digest, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is(read_file($path), $digest, $name);
}


###########################################################################
# files

sub write_file {
    my ($path, $data) = @_;
    make_path(dirname($path));
    open(my $fh, '>:raw', $path) or die "$path: $!\n";
    print $fh $data;
    close $fh or die "$path: $!\n";
}


sub read_file {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or return undef;
    local $/;
    my $d = <$fh>;
    close $fh;
    return $d;
}


1;
