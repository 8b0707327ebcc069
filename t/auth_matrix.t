#!/usr/bin/perl

# conf/authelia.conf as shipped, in front of a stand-in for Authelia's
# /api/authz/auth-request: every identity (nobody, reader, writer, admin,
# a wrong password, a user in no registry group, a browser session)
# against every endpoint and method, in repositories inside and outside
# the writers' team/*; what should pass is computed from Authelia's rules
# and the registry_allow rules of the conf file.  Then the same with
# forged Remote-User/Remote-Groups headers, a cross-repository mount,
# the filtered catalog, the user the web UI sees, the portal redirect,
# and skopeo --creds through the protected endpoint.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use MIME::Base64 qw(encode_base64);
use Test::More;
use Hephaestus::Test qw(:all);
use Hephaestus::Authelia;

my $t = Hephaestus::Test->new();
my $authelia = Hephaestus::Authelia->new($t->dir,
    sessions => { 'sess-reader' => 'reader' })->start;
my $run = Hephaestus::Authelia::start_conf($t, 'conf/authelia.conf',
    AUTHELIA => $authelia->url);

unless ($run) {
    fail('conf/authelia.conf starts');
    done_testing();
    exit 1;
}

my %PW = map { $_ => $Hephaestus::Authelia::USERS{$_}[0] }
    keys %Hephaestus::Authelia::USERS;

# identity => request headers
my %ID = (
    anonymous => {},
    reader => basic('reader', $PW{reader}),
    writer => basic('writer', $PW{writer}),
    admin => basic('admin', $PW{admin}),
    wrongpw => basic('writer', 'not-the-password'),
    nogroup => basic('nogroup', $PW{nogroup}),
    session => { cookie => 'authelia_session=sess-reader' },
);

# who each identity is once Authelia has answered, and its groups
my %WHO = (anonymous => undef, reader => 'reader', writer => 'writer',
    admin => 'admin', wrongpw => undef, nogroup => 'nogroup',
    session => 'reader');

my @REPOS = qw(team/app other/app public/base writer/mine blocked/app);
my $CONFIG = '{"architecture":"amd64","os":"linux","rootfs":'
    . '{"type":"layers","diff_ids":[]}}';
my $CONFIG_DIGEST = sha256_digest($CONFIG);
my $MANIFEST = json_text({ schemaVersion => 2,
    mediaType => 'application/vnd.oci.image.manifest.v1+json',
    config => { mediaType => 'application/vnd.oci.image.config.v1+json',
        digest => $CONFIG_DIGEST, size => length $CONFIG },
    layers => [] });
my $MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json';


sub basic {
    my ($user, $pw) = @_;
    return { authorization => 'Basic '
        . encode_base64("$user:$pw", '') };
}


sub as {
    my ($id, $method, $path, %opt) = @_;
    my %h = (%{ $ID{$id} }, %{ $opt{headers} || {} });
    return $t->req($method, $path, %opt, headers => \%h);
}


# seed: the admin pushes one image in each repository Authelia lets through

for my $repo (grep { !/^blocked/ } @REPOS) {
    my $r = as('admin', 'POST', "/v2/$repo/blobs/uploads/?digest="
        . $CONFIG_DIGEST, body => $CONFIG);
    is($r->{status}, 201, "seed config in $repo");
    $r = as('admin', 'PUT', "/v2/$repo/manifests/v1",
        headers => { 'content-type' => $MANIFEST_TYPE }, body => $MANIFEST);
    is($r->{status}, 201, "seed manifest in $repo");
}


###########################################################################
# what should pass

my %GROUPS = map { $_ => { map { $_ => 1 }
    @{ $Hephaestus::Authelia::USERS{$_}[1] } } }
    keys %Hephaestus::Authelia::USERS;

# the registry_allow rules of conf/authelia.conf
my @ALLOW = (
    [ 'pull,push,delete,catalog', '*', 'group:registry-admins' ],
    [ 'pull,push', 'team/*', 'group:registry-writers' ],
    [ 'pull', '*', 'group:registry-readers' ],
    [ 'pull,push,delete,catalog', '$user/*', 'authenticated' ],
    [ 'pull', 'public/*', 'anonymous' ],
);


sub glob_re {
    my ($pat, $user) = @_;
    my $re = join '', map { $_ eq '*' ? '.*' : $_ eq '?' ? '.'
        : $_ eq '$user' ? quotemeta($user // "\0") : quotemeta }
        split /(\*|\?|\$user)/, $pat;
    return qr/^$re$/;
}


sub module_allows {
    my ($user, $action, $repo) = @_;

    for my $r (@ALLOW) {
        my ($actions, $pat, $who) = @$r;
        next unless grep { $_ eq $action } split /,/, $actions;
        next if $who eq 'authenticated' && !defined $user;
        next if $who =~ /^group:(.*)/ && !(defined $user && $GROUPS{$user}{$1});
        next if $pat =~ /\$user/ && !defined $user;
        return 1 if !defined $repo || $repo =~ glob_re($pat, $user);
    }

    return 0;
}


# expect(id, action, repo, method): 'ok', 401 or 403.

sub expect {
    my ($id, $action, $repo, $method) = @_;
    my $user = $WHO{$id};
    my $path = defined $repo ? "/v2/$repo/" : '/v2/';

    # Authelia first: credentials, then its access-control rules

    return 401 if $id eq 'wrongpw';
    return 403 if $path =~ m{^/v2/blocked/};

    my $bypass = $path =~ m{^/v2/public/} && $method =~ /^(GET|HEAD)$/;

    if (!defined $user) {
        return 401 unless $bypass;

    } elsif (!%{ $GROUPS{$user} } && !$bypass) {
        return 403;
    }

    # then the module

    if ($action eq 'base') {
        return 'ok' if defined $user;
        return (grep { $_->[2] eq 'anonymous' } @ALLOW) ? 'ok' : 401;
    }

    if ($action eq 'catalog') {
        return 'ok' if defined $user;
        return module_allows(undef, 'pull', undef) ? 'ok' : 401;
    }

    return 'ok' if module_allows($user, $action, $repo);
    return defined $user ? 403 : 401;
}


###########################################################################
# the requests: [ action, method, path or code(id) giving one, repo ]

sub requests_for {
    my ($repo) = @_;
    my $missing = sha256_digest("missing in $repo");

    return (
        [ 'pull', 'GET', "/v2/$repo/tags/list" ],
        [ 'pull', 'GET', "/v2/$repo/manifests/v1" ],
        [ 'pull', 'HEAD', "/v2/$repo/manifests/v1" ],
        [ 'pull', 'GET', "/v2/$repo/blobs/$CONFIG_DIGEST" ],
        [ 'pull', 'HEAD', "/v2/$repo/blobs/$CONFIG_DIGEST" ],
        [ 'pull', 'GET', "/v2/$repo/referrers/$CONFIG_DIGEST" ],
        [ 'push', 'PUT', sub { "/v2/$repo/manifests/by-$_[0]" },
            headers => { 'content-type' => $MANIFEST_TYPE },
            body => $MANIFEST ],
        [ 'delete', 'DELETE', sub { "/v2/$repo/manifests/by-$_[0]" } ],
        [ 'delete', 'DELETE', "/v2/$repo/blobs/$missing" ],
        [ 'push', 'POST', "/v2/$repo/blobs/uploads/" ],
        [ 'push', 'POST', "/v2/$repo/blobs/uploads/?digest="
            . sha256_digest('x'), body => 'x' ],
        [ 'push', 'GET', sub { session($repo) } ],
        [ 'push', 'PATCH', sub { session($repo) }, body => 'abc' ],
        [ 'push', 'PUT', sub { session($repo) . '?digest='
            . sha256_digest('') } ],
        [ 'push', 'DELETE', sub { session($repo) } ],
        [ 'push', 'POST', "/v2/$repo/blobs/uploads/?mount=$CONFIG_DIGEST"
            . "&from=team/app" ],
    );
}


# session(repo): a fresh upload session opened by the admin.

sub session {
    my ($repo) = @_;
    return "/v2/$repo/blobs/uploads/" . ('0' x 8) . '-0000-4000-8000-'
        . ('0' x 12) if $repo =~ /^blocked/;
    my $r = as('admin', 'POST', "/v2/$repo/blobs/uploads/");
    return Hephaestus::Test::location($r) // "/v2/$repo/blobs/uploads/none";
}


my %count = (requests => 0, allowed => 0, refused => 0,
    unauthorized_success => 0, wrong_refusal => 0, wrong_status => 0,
    bad_error => 0, server_error => 0);


sub check_one {
    my ($id, $action, $method, $path, $repo, $forged, %opt) = @_;
    $path = $path->($id) if ref $path;
    my %h = %{ $opt{headers} || {} };
    %h = (%h, 'remote-user' => 'admin', 'remote-groups' => 'registry-admins',
        'remote-name' => 'Ada Admin', 'x-forwarded-user' => 'admin')
        if $forged;

    my $r = as($id, $method, $path, %opt, headers => \%h);
    my $want = expect($id, $action, $repo, $method);
    my $label = "$id $method $path" . ($forged ? ' (forged)' : '');
    $count{requests}++;

    if ($r->{status} >= 500) {
        $count{server_error}++;
        diag("$label: $r->{status}");
        return;
    }

    my $refused = $r->{status} == 401 || $r->{status} == 403;
    $count{ $refused ? 'refused' : 'allowed' }++;

    if ($want eq 'ok') {
        if ($refused) {
            $count{wrong_refusal}++;
            diag("$label: refused with $r->{status}");
        }
        return;
    }

    unless ($refused) {
        $count{unauthorized_success}++;
        diag("$label: $r->{status}, should be $want");
        return;
    }

    if ($r->{status} != $want) {
        $count{wrong_status}++;
        diag("$label: $r->{status}, should be $want");
    }

    my $code = $want == 401 ? 'UNAUTHORIZED' : 'DENIED';
    my $ok = (hdr($r, 'docker-distribution-api-version') // '')
        eq 'registry/2.0'
        && ($method eq 'HEAD'
            || (eval { json_of($r)->{errors}[0]{code} } // '') eq $code)
        && ($want == 403
            || (hdr($r, 'www-authenticate') // '') =~ /^Basic realm="[^"]+"$/);

    unless ($ok) {
        $count{bad_error}++;
        diag("$label: error answer: " . join(' ', map {
            "$_=" . (hdr($r, $_) // '-') } qw(docker-distribution-api-version
            www-authenticate content-type)) . ' ' . ($r->{content} // ''));
    }
}


for my $forged (0, 1) {
    for my $id (sort keys %ID) {
        check_one($id, 'base', 'GET', '/v2/', undef, $forged);
        check_one($id, 'base', 'HEAD', '/v2/', undef, $forged);
        check_one($id, 'catalog', 'GET', '/v2/_catalog', undef, $forged);

        for my $repo (@REPOS) {
            for my $q (requests_for($repo)) {
                my ($action, $method, $path, %opt) = @$q;
                check_one($id, $action, $method, $path, $repo, $forged, %opt);
            }
        }
    }
}

# the counts

note(join ', ', map { "$_ $count{$_}" } sort keys %count);
diag("authorization matrix: $count{requests} requests, $count{allowed} "
    . "allowed, $count{refused} refused, $count{unauthorized_success} "
    . "unauthorized successes, $count{wrong_refusal} wrong refusals")
    if $ENV{TEST_VERBOSE} || $count{unauthorized_success}
    || $count{wrong_refusal};
ok($count{requests} > 1000, "matrix ran ($count{requests} requests)");
is($count{unauthorized_success}, 0, 'zero unauthorized successes');
is($count{wrong_refusal}, 0, 'zero wrong refusals');
is($count{wrong_status}, 0, '401 for nobody, 403 for a known user');
is($count{bad_error}, 0, 'refusals are registry errors with the challenge');
is($count{server_error}, 0, 'no server error');
ok($count{allowed} > 300 && $count{refused} > 300, 'both kinds seen');


###########################################################################
# the catalog lists what the user may pull

my %CAT = (
    admin => [ 'other/app', 'public/base', 'team/app', 'writer/mine' ],
    reader => [ 'other/app', 'public/base', 'team/app', 'writer/mine' ],
    writer => [ 'public/base', 'team/app', 'writer/mine' ],
);

for my $id (sort keys %CAT) {
    my $r = as($id, 'GET', '/v2/_catalog');
    is_deeply(json_of($r)->{repositories}, $CAT{$id}, "catalog of $id");
}

my @pages;
my $next = '/v2/_catalog?n=1';

for (1 .. 10) {
    my $r = as('writer', 'GET', $next);
    last unless $r->{status} == 200;
    push @pages, @{ json_of($r)->{repositories} || [] };
    ($next) = (hdr($r, 'link') // '') =~ /^<([^>]+)>/;
    last unless $next;
}

is_deeply(\@pages, $CAT{writer}, 'catalog of writer, one by one');


###########################################################################
# cross-repository mount: only from where the user may pull

my $r = as('writer', 'POST', "/v2/team/app/blobs/uploads/?mount="
    . "$CONFIG_DIGEST&from=other/app");
is($r->{status}, 202, 'mount from a repository writer may not pull: upload');
$r = as('writer', 'POST', "/v2/team/new/blobs/uploads/?mount="
    . "$CONFIG_DIGEST&from=public/base");
is($r->{status}, 201, 'mount from a repository writer may pull: mounted');


###########################################################################
# what the web UI sees

$r = as('session', 'GET', '/v2/');
is($r->{status}, 200, 'session: base');
is(hdr($r, 'x-registry-user'), 'reader', 'session: the UI sees the user');
$r = as('writer', 'GET', '/v2/');
is(hdr($r, 'x-registry-user'), 'writer', 'basic: the UI sees the user');
$r = as('anonymous', 'GET', '/v2/', headers => { 'remote-user' => 'admin' });
ok(!defined hdr($r, 'x-registry-user'), 'forged: no user');

$r = as('anonymous', 'GET', '/');
is($r->{status}, 302, 'UI without a session: redirect');
like(hdr($r, 'location') // '',
    qr{^https://auth\.example\.test/\?rd=http%3A%2F%2F127\.0\.0\.1%3A\d+%2F$},
    'UI without a session: to the portal, back here after');
$r = as('session', 'GET', '/');
is($r->{status}, 200, 'UI with a session');
like($r->{content} // '', qr/<html/i, 'UI with a session: the page');


###########################################################################
# what nginx told Authelia

my ($seen) = grep { $_->{headers}{'x-original-method'} eq 'PATCH' }
    @{ $authelia->requests };
ok($seen, 'Authelia asked about a PATCH');

if ($seen) {
    like($seen->{headers}{'x-original-url'},
        qr{^http://127\.0\.0\.1:\d+/v2/.+/blobs/uploads/}, 'X-Original-URL');
    is($seen->{headers}{'x-forwarded-method'}, 'PATCH', 'X-Forwarded-Method');
    is($seen->{headers}{'x-forwarded-proto'}, 'http', 'X-Forwarded-Proto');
    like($seen->{headers}{'x-forwarded-host'}, qr/^127\.0\.0\.1:\d+$/,
        'X-Forwarded-Host');
    like($seen->{headers}{'x-forwarded-uri'}, qr{^/v2/}, 'X-Forwarded-URI');
    is($seen->{headers}{'x-forwarded-for'}, '127.0.0.1', 'X-Forwarded-For');
    ok(!defined $seen->{headers}{'content-length'}
        || $seen->{headers}{'content-length'} eq '', 'no body to Authelia');
}


###########################################################################
# skopeo with --creds

SKIP: {
    skip 'skopeo is not installed (Debian package skopeo)', 5
        unless grep { -x "$_/skopeo" } split /:/, $ENV{PATH};

    require Hephaestus::Images;
    my $img = Hephaestus::Images->new($t->dir . '/images');
    my $oci = $img->busybox;
    my $src = $img->layout('src', latest => $oci);
    my $state = $t->dir . '/skopeo';
    my $reg = 'docker://' . $t->host;
    my $sk = sub { Hephaestus::Images::skopeo($state, @_) };

    is($sk->('copy', '--dest-tls-verify=false', '--dest-creds',
        "writer:$PW{writer}", "oci:$src:latest", "$reg/team/busybox:1"), 0,
        'skopeo: writer pushes to team/');
    is($sk->('copy', '--src-tls-verify=false', '--src-creds',
        "reader:$PW{reader}", "$reg/team/busybox:1", "oci:$state/out:1"), 0,
        'skopeo: reader pulls it');
    ok(-f "$state/out/index.json", 'skopeo: pulled layout');
    isnt($sk->('copy', '--dest-tls-verify=false', '--dest-creds',
        "writer:$PW{writer}", "oci:$src:latest", "$reg/other/busybox:1"), 0,
        'skopeo: writer may not push to other/');
    isnt($sk->('copy', '--dest-tls-verify=false', '--dest-creds',
        'writer:wrong', "oci:$src:latest", "$reg/team/busybox:2"), 0,
        'skopeo: a wrong password pushes nothing');
}

ok(Hephaestus::Authelia::conf_log_clean($run), 'no alert or crit logged');
$t->kill_server;
$authelia->stop;

done_testing();
