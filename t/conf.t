#!/usr/bin/perl

# Every conf/*.conf, filled in as `make run` does (tools/run-registry),
# started and checked against what its opening comment promises.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use MIME::Base64 qw(encode_base64);
use Test::More;
use Hephaestus::Test qw(:all);
use Hephaestus::Authelia;

my $TOP = $Hephaestus::Test::TOP;
my @CONFS = map { s{^\Q$TOP\E/}{}r } sort glob("$TOP/conf/*.conf");
my %PW = (admin => 'admin-pw', writer => 'writer-pw', reader => 'reader-pw');
my $BLOB = "a layer\n";
my $DIGEST = sha256_digest($BLOB);

ok(scalar @CONFS >= 5, 'configurations found: ' . join(' ', @CONFS));


sub basic {
    my ($user, $pw) = @_;
    return (authorization => 'Basic ' . encode_base64("$user:$pw", ''));
}


# an htpasswd file with SHA-512 crypt(3) hashes, which nginx reads

sub htpasswd {
    my ($dir) = @_;
    my $text = join '', map {
        my $salt = substr(sha256_digest($_), 7, 16);
        "$_:" . crypt($PW{$_}, "\$6\$$salt\$") . "\n" } sort keys %PW;
    write_file("$dir/htpasswd", $text);
    return "$dir/htpasswd";
}


sub api_ok {
    my ($r, $status, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is($r->{status}, $status, "$name: $status")
        or diag(substr($r->{content} // '', 0, 300));
    is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
        "$name: api version header");
}


sub challenge_ok {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    oci_error_is($r, 401, 'UNAUTHORIZED', $name);
    like(hdr($r, 'www-authenticate') // '', qr/^Basic realm="[^",]+"$/,
        "$name: one Basic challenge");
}


# with(conf, code(t, run), %env): a fresh folder, ports and server.

sub with {
    my ($conf, $code, %env) = @_;
    my $t = Hephaestus::Test->new();
    $env{HTPASSWD} //= htpasswd($t->dir);
    my $run = Hephaestus::Authelia::start_conf($t, $conf, %env);

    subtest $conf => sub {
        ok($run, 'starts') or return;
        my $r = $t->get('/v2/', headers => { basic('admin', $PW{admin}) });
        api_ok($r, 200, 'base as admin');
        $code->($t, $run);
        ok(Hephaestus::Authelia::conf_log_clean($run), 'no alert or crit');
    };

    $t->kill_server;
}


my %CHECK;

# standalone: open to anyone on loopback, the UI at /

$CHECK{'conf/standalone.conf'} = sub {
    my ($t) = @_;
    api_ok($t->get('/v2/'), 200, 'base, nobody logged in');
    my $r = $t->post("/v2/lab/app/blobs/uploads/?digest=$DIGEST",
        body => $BLOB);
    api_ok($r, 201, 'push, nobody logged in');
    is(hdr($r, 'location'), "/v2/lab/app/blobs/$DIGEST", 'relative Location');
    api_ok($t->get("/v2/lab/app/blobs/$DIGEST"), 200, 'pull');
    like($t->get('/')->{content}, qr/<html/i, 'the web UI');
};

# htpasswd: everyone logs in, groups from the map

my $closed = sub {
    my ($t) = @_;
    my %admin = basic('admin', $PW{admin});
    my %writer = basic('writer', $PW{writer});
    my %reader = basic('reader', $PW{reader});

    challenge_ok($t->get('/v2/'), 'base, nobody');
    challenge_ok($t->head('/v2/'), 'HEAD base, nobody');
    challenge_ok($t->get('/v2/', headers => { basic('admin', 'nope') }),
        'base, wrong password');
    challenge_ok($t->get('/v2/_catalog',
        headers => { 'remote-user' => 'admin',
            'remote-groups' => 'registry-admins' }),
        'catalog, forged Remote-User');

    my $r = $t->get('/v2/', headers => \%reader);
    api_ok($r, 200, 'base as reader');
    is(hdr($r, 'x-registry-user'), 'reader', 'the UI sees the user');

    api_ok($t->post("/v2/team/app/blobs/uploads/?digest=$DIGEST",
        headers => \%writer, body => $BLOB), 201, 'writer pushes to team/');
    oci_error_is($t->post("/v2/other/app/blobs/uploads/?digest=$DIGEST",
        headers => \%writer, body => $BLOB), 403, 'DENIED',
        'writer may not push to other/');
    oci_error_is($t->post("/v2/team/app/blobs/uploads/?digest=$DIGEST",
        headers => { %reader, 'remote-user' => 'admin',
            'remote-groups' => 'registry-admins' }, body => $BLOB),
        403, 'DENIED', 'reader with forged headers may not push');
    api_ok($t->get("/v2/team/app/blobs/$DIGEST", headers => \%reader), 200,
        'reader pulls');
    api_ok($t->delete("/v2/team/app/blobs/$DIGEST", headers => \%admin), 202,
        'admin deletes');
    is($t->get('/')->{status}, 401, 'the web UI asks for the password');
    like($t->get('/', headers => \%reader)->{content}, qr/<html/i,
        'the web UI once logged in');
};

$CHECK{'conf/htpasswd.conf'} = $closed;

# internal: the public listener as htpasswd, the internal one open

$CHECK{'conf/internal.conf'} = sub {
    my ($t) = @_;
    $closed->($t);
    api_ok($t->get('/v2/', port => 2), 200, 'internal: base, nobody');
    my $r = $t->post("/v2/swarm/svc/blobs/uploads/?digest=$DIGEST",
        port => 2, body => $BLOB);
    api_ok($r, 201, 'internal: push, nobody');
    api_ok($t->get("/v2/swarm/svc/blobs/$DIGEST", port => 2), 200,
        'internal: pull');
    api_ok($t->get("/v2/swarm/svc/blobs/$DIGEST",
        headers => { basic('reader', $PW{reader}) }), 200,
        'public: the same data');
    is($t->get('/', port => 2)->{status}, 404, 'internal: no web UI');
};

# traefik: relative Locations whatever the forwarded scheme and host

$CHECK{'conf/traefik.conf'} = sub {
    my ($t, $run) = @_;

    # what Traefik sends: the public host, the scheme and client it saw

    my $fwd = sub {
        my ($line, @more) = @_;
        return $t->raw([ $line, 'Host: registry.example.test',
            'X-Forwarded-Proto: https',
            'X-Forwarded-Host: registry.example.test',
            'X-Forwarded-For: 203.0.113.7', 'Connection: close', @more ]);
    };

    my $r = $fwd->('POST /v2/lab/app/blobs/uploads/ HTTP/1.1',
        'Content-Length: 0');
    api_ok($r, 202, 'upload session through the proxy');
    my $loc = hdr($r, 'location') // '/v2/none';
    like($loc, qr{^/v2/lab/app/blobs/uploads/[^/]+$},
        'upload Location is relative');
    $r = $fwd->("PUT $loc?digest=$DIGEST HTTP/1.1",
        'Content-Length: ' . length($BLOB) . "\r\n\r\n$BLOB");
    api_ok($r, 201, 'upload done');
    is(hdr($r, 'location'), "/v2/lab/app/blobs/$DIGEST",
        'blob Location is relative');
    $r = $fwd->('GET /v2 HTTP/1.1');
    is($r->{status}, 301, '/v2 redirected');
    is(hdr($r, 'location'), '/v2/', 'nginx redirect is relative');
    my $log = read_file("$run/logs/access.log") // '';
    like($log, qr{^203\.0\.113\.7 "https://registry\.example\.test"}m,
        'client address and public URL in the access log');
};

# authelia: the full matrix is t/auth_matrix.t; here it starts and asks

my $authelia;

$CHECK{'conf/authelia.conf'} = sub {
    my ($t) = @_;
    challenge_ok($t->get('/v2/'), 'base, nobody');
    challenge_ok($t->get('/v2/', headers => { basic('admin', 'nope') }),
        'base, wrong password');
    oci_error_is($t->get('/v2/blocked/x/tags/list',
        headers => { basic('admin', $PW{admin}) }), 403, 'DENIED',
        'Authelia denies');
    is($t->get('/')->{status}, 302, 'the web UI sends nobody to the portal');
    ok(scalar @{ $authelia->requests }, 'Authelia was asked');
};

for my $conf (@CONFS) {
    my %env;

    if ($conf =~ /authelia/) {
        $authelia = Hephaestus::Authelia->new(Hephaestus::Test->new()->dir)
            ->start(2);
        $env{AUTHELIA} = $authelia->url;
    }

    with($conf, $CHECK{$conf} || sub {
        fail("$conf has checks in t/conf.t");
    }, %env);

    $authelia->stop if $authelia;
    undef $authelia;
}

done_testing();
