package Hephaestus::Authelia;

# A stand-in for Authelia's /api/authz/auth-request endpoint (4.38 and
# later, AuthRequest implementation with the HeaderAuthorization (Basic)
# and CookieSession strategies, as in conf/authelia-access-control.yml),
# for the tests of conf/authelia.conf.  Core Perl only: a few processes
# accepting on one loopback socket, one request per connection.
#
# What it answers, as Authelia documents it:
#   - Authorization: Basic with a wrong user or password: 401 with
#     WWW-Authenticate: Basic realm="Authorization Required".
#   - Authorization: Basic that is right, or a known authelia_session
#     cookie: the access-control rules decide: 200 with Remote-User,
#     Remote-Groups, Remote-Name, Remote-Email; 403 when denied.
#   - nobody (no header, no known cookie): 200 without Remote-* where the
#     rule is bypass, 403 where it is deny, else 401 with a Location to
#     the portal, ?rd= the X-Original-URL.
#   - X-Original-URL or X-Original-Method missing: 400.
# Every request is appended to requests.log as one JSON line, so that the
# tests can check what nginx sent.

use strict;
use warnings;

use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Hephaestus::Test;

our $PORTAL = 'https://auth.example.test/';

# The users of the tests: password, groups, display name.
our %USERS = (
    reader => [ 'reader-pw', [ 'registry-readers' ], 'Rita Reader' ],
    writer => [ 'writer-pw', [ 'registry-writers', 'dev' ], 'Will Writer' ],
    admin  => [ 'admin-pw', [ 'registry-admins' ], 'Ada Admin' ],
    nogroup => [ 'nogroup-pw', [], 'Nora Nogroup' ],
);

# The rules of conf/authelia-access-control.yml, plus a deny rule the
# tests use: [ path regexp, methods or undef, policy, groups or undef ].
our @RULES = (
    [ qr{^/v2/blocked/}, undef, 'deny' ],
    [ qr{^/v2/public/}, [ 'GET', 'HEAD' ], 'bypass' ],
    [ qr{^/v2/}, undef, 'one_factor',
        [ qw(registry-admins registry-writers registry-readers) ] ],
    [ qr{^/}, undef, 'one_factor',
        [ qw(registry-admins registry-writers registry-readers) ] ],
);


# new(dir, sessions => { cookie => user }): not started yet.

sub new {
    my ($class, $dir, %opt) = @_;
    return bless {
        dir => $dir,
        sessions => $opt{sessions} || {},
        port => Hephaestus::Test::free_port(),
        pids => [],
        owner => $$,
    }, $class;
}


sub port { $_[0]{port} }
sub url  { 'http://127.0.0.1:' . $_[0]{port} }
sub log_file { "$_[0]{dir}/requests.log" }


sub start {
    my ($self, $procs) = @_;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $self->{port}, Proto => 'tcp', Listen => 64,
        ReuseAddr => 1) or die "fake authelia: cannot listen: $!\n";

    for (1 .. ($procs || 3)) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;

        if ($pid == 0) {
            $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP PIPE);
            alarm 3600;
            $self->serve($listen);
            POSIX::_exit(0);
        }

        push @{ $self->{pids} }, $pid;
    }

    close $listen;
    return $self;
}


sub stop {
    my ($self) = @_;
    Hephaestus::Test::stop_pid($_, 5) for @{ $self->{pids} };
    $self->{pids} = [];
}


sub DESTROY {
    my ($self) = @_;
    $self->stop if @{ $self->{pids} || [] } && $self->{owner} == $$;
}


# requests(): what nginx asked, oldest first.

sub requests {
    my ($self) = @_;
    open my $fh, '<', $self->log_file or return [];
    my @r = map { JSON::PP->new->decode($_) } grep { /\S/ } <$fh>;
    close $fh;
    return \@r;
}


sub serve {
    my ($self, $listen) = @_;

    for (1 .. 1_000_000) {
        my $c = $listen->accept or next;
        $c->autoflush(1);
        eval { $self->handle($c) };
        close $c;
    }
}


sub handle {
    my ($self, $c) = @_;
    my ($head, $n) = ('', 0);

    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 10;

    while ($head !~ /\r\n\r\n/ && length $head < 65536) {
        $n = sysread($c, $head, 4096, length $head);
        last unless $n;
    }

    alarm 3600;

    my ($line, @lines) = split /\r\n/, (split /\r\n\r\n/, $head, 2)[0];
    my ($method, $target) = split / /, $line // '';
    my %h;

    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{ lc $k } = $v;
    }

    my ($status, $out) = $self->decide($method // '', $target // '', \%h);
    $self->record($method, $target, \%h, $status, $out);

    my $res = "HTTP/1.1 $status " . ({ 200 => 'OK', 400 => 'Bad Request',
        401 => 'Unauthorized', 403 => 'Forbidden', 404 => 'Not Found' }
        ->{$status} // 'Status') . "\r\n";
    $res .= "$_->[0]: $_->[1]\r\n" for @$out;
    $res .= "Content-Length: 0\r\nConnection: close\r\n\r\n";
    print $c $res;
}


sub record {
    my ($self, $method, $target, $h, $status, $out) = @_;
    my $line = JSON::PP->new->canonical->encode({ method => $method,
        target => $target, headers => $h, status => $status,
        answer => { map { $_->[0] => $_->[1] } @$out } }) . "\n";
    open my $fh, '>>', $self->log_file or return;
    syswrite $fh, $line;
    close $fh;
}


# decide(method, target, headers): (status, [ [name, value], ... ]).

sub decide {
    my ($self, $method, $target, $h) = @_;

    return (404, []) unless $method eq 'GET'
        && $target =~ m{^/api/authz/auth-request(?:\?|$)};

    my ($url, $verb) = ($h->{'x-original-url'}, $h->{'x-original-method'});
    return (400, []) unless $url && $verb && $url =~ m{^https?://[^/]+(/.*)$};

    my $path = $1;
    $path =~ s/\?.*//;
    my $user;

    if (defined $h->{authorization}) {
        my ($name, $pw) = $h->{authorization} =~ /^Basic\s+(\S+)$/i
            ? split(/:/, decode_base64($1), 2) : ();

        unless (defined $pw && $USERS{$name} && $USERS{$name}[0] eq $pw) {
            return (401, [ [ 'WWW-Authenticate',
                'Basic realm="Authorization Required"' ] ]);
        }

        $user = $name;

    } elsif (($h->{cookie} // '') =~ /(?:^|;\s*)authelia_session=([^;]+)/) {
        $user = $self->{sessions}{$1};
    }

    my $policy = $self->policy($path, $verb, $user);

    if ($policy eq 'deny') {
        return (403, []);
    }

    if (!defined $user) {
        return (200, []) if $policy eq 'bypass';
        my $rd = $url;
        $rd =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
        return (401, [ [ 'Location', "${PORTAL}?rd=$rd" ] ]);
    }

    my $u = $USERS{$user};
    return (200, [ [ 'Remote-User', $user ],
        [ 'Remote-Groups', join(',', @{ $u->[1] }) ],
        [ 'Remote-Name', $u->[2] ],
        [ 'Remote-Email', "$user\@example.test" ] ]);
}


# policy(path, method, user): the first rule that applies; a rule with
# groups applies to users in one of them (and to nobody, who must then
# log in); default deny.

sub policy {
    my ($self, $path, $method, $user) = @_;
    my %in = map { $_ => 1 } $user ? @{ $USERS{$user}[1] } : ();

    for my $r (@RULES) {
        my ($re, $methods, $policy, $groups) = @$r;
        next unless $path =~ $re;
        next if $methods && !grep { $_ eq $method } @$methods;
        next if $groups && defined $user && !grep { $in{$_} } @$groups;
        return $policy;
    }

    return 'deny';
}


###########################################################################
# conf/*.conf under test

# start_conf(t, conf, %env): fills conf (a path under the top of the tree)
# the way `make run` does (tools/run-registry --print), with PORT the
# test's first port and INTERNAL_PORT its second, and starts nginx on it,
# stopped with the test's servers.  env: AUTHELIA, HTPASSWD.  Returns the
# run folder (logs/error.log in it), or undef when nginx does not start.

sub start_conf {
    my ($t, $conf, %env) = @_;
    my $top = $Hephaestus::Test::TOP;
    (my $name = $conf) =~ s{.*/|\.conf$}{}g;
    my $run = $t->dir . "/run-$name";
    my $module = $ENV{TEST_REGISTRY_MODULE}
        || "$top/build/nginx/ngx_http_registry_module.so";

    local $ENV{AUTHELIA} = $env{AUTHELIA} // 'http://127.0.0.1:9';
    local $ENV{HTPASSWD} = $env{HTPASSWD} // "$top/conf/htpasswd";
    local $ENV{INTERNAL_PORT} = $t->port(2);

    open my $ph, '-|', 'sh', "$top/tools/run-registry", '--print', $module,
        "$top/$conf", $t->port(1), $t->data, $run
        or return undef;
    my @out = <$ph>;
    close $ph;
    chomp @out;
    return undef unless @out == 2 && -f $out[0];

    my $pid = Hephaestus::Test::spawn([ $ENV{TEST_NGINX_BINARY}
        || '/usr/sbin/nginx', '-p', "$run/", '-c', $out[0], '-g', $out[1],
        '-e', "$run/logs/error.log" ], "$run/server.out");
    push @{ $t->{extra_pids} }, $pid;
    $t->{owner} //= $$;

    my @ports = ($t->port(1));
    push @ports, $t->port(2)
        if (Hephaestus::Test::read_file("$top/$conf") // '')
            =~ /\@INTERNAL_PORT\@/;

    for my $port (@ports) {
        next if Hephaestus::Test::wait_port($port, 15, $pid);
        Test::More::diag(Hephaestus::Test::read_file("$run/server.out")
            // '');
        Test::More::diag(Hephaestus::Test::read_file("$run/logs/error.log")
            // '');
        return undef;
    }

    return $run;
}


# conf_log_clean(run): no [alert], [crit] or [emerg] in its error.log.

sub conf_log_clean {
    my ($run) = @_;
    my $log = Hephaestus::Test::read_file("$run/logs/error.log") // '';
    my @bad = grep { /\[(?:alert|crit|emerg)\]/ } split /\n/, $log;
    Test::More::diag(join "\n", @bad[0 .. ($#bad > 10 ? 10 : $#bad)])
        if @bad;
    return !@bad;
}


1;
