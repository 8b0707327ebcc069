#!/usr/bin/perl

# The module's access rules on their own (registry_identity,
# registry_allow) and its variables $registry_repository and
# $registry_action.  To reach every case the identity comes from request
# headers here, which a real configuration must never do (see conf/).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Hephaestus::Test qw(:all);

my $t = Hephaestus::Test->new(location => <<'EOF', servers => <<'EOF2');
            registry on;
            registry_root %%DATA%%;
            registry_delete on;
            client_max_body_size 0;
            registry_identity $http_x_test_user $http_x_test_groups;
            registry_allow pull     lib/?       user:carol;
            registry_allow push     lib/*       group:builders;
            registry_allow pull     lib/*       group:builders;
            registry_allow all      $user/*     authenticated;
            registry_allow catalog  hidden/*    user:carol;
            add_header X-Action "$registry_action $registry_repository" always;
EOF
    server {
        listen 127.0.0.1:%%PORT2%%;
        location /v2/ {
            registry on;
            registry_root %%DATA%%;
            registry_identity $http_x_test_user;
            registry_allow pull open/* anonymous;
        }
    }
EOF2
$t->run;

my $BLOB = "rules\n";
my $D = sha256_digest($BLOB);

sub as {
    my ($user, $groups, $method, $path, %opt) = @_;
    my %h = %{ $opt{headers} || {} };
    $h{'x-test-user'} = $user if defined $user;
    $h{'x-test-groups'} = $groups if defined $groups;
    return $t->req($method, $path, %opt, headers => \%h);
}

# variables

my $r = as('bob', 'builders', 'POST', "/v2/lib/a/blobs/uploads/?digest=$D",
    body => $BLOB);
is($r->{status}, 201, 'builders push');
is(hdr($r, 'x-action'), 'push lib/a', '$registry_action push');
is(hdr(as('bob', 'builders', 'GET', "/v2/lib/a/blobs/$D"), 'x-action'),
    'pull lib/a', 'pull');
is(hdr(as('bob', 'x', 'DELETE', "/v2/lib/a/manifests/v1"), 'x-action'),
    'delete lib/a', 'delete');
like(hdr(as('bob', undef, 'GET', '/v2/_catalog'), 'x-action'),
    qr/^catalog\s*$/,
    'catalog');
like(hdr(as(undef, undef, 'GET', '/v2/'), 'x-action'), qr/^base\s*$/,
    'base');
is(hdr(as('bob', 'x', 'GET', "/v2/lib/a/blobs/uploads/x"), 'x-action'),
    'push lib/a', 'upload status is push');
is(hdr(as('bob', 'x', 'GET', '/v2/nope'), 'x-action') // '', '',
    'unknown endpoint: empty');

# who and patterns

is(as('carol', undef, 'GET', "/v2/lib/a/blobs/$D")->{status}, 200,
    'user: and ? match');
oci_error_is(as('carol', undef, 'GET', "/v2/lib/ab/blobs/$D"), 403,
    'DENIED', '? is one character');
oci_error_is(as('carol', undef, 'POST', '/v2/lib/a/blobs/uploads/'), 403,
    'DENIED', 'pull is not push');
oci_error_is(as('bob', 'readers, builders2', 'POST',
    '/v2/lib/a/blobs/uploads/'), 403, 'DENIED', 'groups match whole');
is(as('bob', 'readers , builders', 'POST', '/v2/lib/x/y/blobs/uploads/')
    ->{status}, 202, 'groups trimmed, * crosses /');
is(as('bob', undef, 'POST', "/v2/bob/img/blobs/uploads/?digest=$D",
    body => $BLOB)->{status}, 201, '$user/* is the own namespace');
oci_error_is(as('bob', undef, 'GET', "/v2/carol/img/tags/list"), 403,
    'DENIED', 'not the namespace of another');
oci_error_is(as('*', undef, 'GET', "/v2/bob/img/tags/list"), 403,
    'DENIED', 'a user named * owns nothing');

# nobody: a challenge, HEAD without a body

$r = as(undef, undef, 'GET', '/v2/');
oci_error_is($r, 401, 'UNAUTHORIZED', 'base without anonymous rules');
is(hdr($r, 'www-authenticate'), 'Basic realm="Hephaestus registry"',
    'the challenge');
$r = as(undef, undef, 'HEAD', "/v2/lib/a/blobs/$D");
oci_error_is($r, 401, 'UNAUTHORIZED', 'HEAD, nobody');
is(as('bob', undef, 'GET', '/v2/')->{status}, 200, 'base for a user');

# catalog: pull or catalog rights, paged

as('bob', 'builders', 'POST', "/v2/lib/b/blobs/uploads/?digest=$D",
    body => $BLOB);
is_deeply(json_of(as('carol', undef, 'GET', '/v2/_catalog'))
    ->{repositories} // [], [], 'no manifests, no repositories yet');

my $M = json_text({ schemaVersion => 2,
    mediaType => 'application/vnd.oci.image.manifest.v1+json',
    config => { mediaType => 'application/vnd.oci.image.config.v1+json',
        digest => $D, size => length $BLOB }, layers => [] });

for my $repo (qw(bob/img lib/a lib/b lib/c/d)) {
    as('bob', 'builders', 'POST', "/v2/$repo/blobs/uploads/?digest=$D",
        body => $BLOB);
    is(as('bob', 'builders', 'PUT', "/v2/$repo/manifests/v1", body => $M,
        headers => { 'content-type' =>
            'application/vnd.oci.image.manifest.v1+json' })->{status},
        201, "manifest in $repo");
}

is_deeply(json_of(as('carol', undef, 'GET', '/v2/_catalog'))->{repositories},
    [ 'lib/a', 'lib/b' ], 'carol sees what she may pull');
is_deeply(json_of(as('bob', 'builders', 'GET', '/v2/_catalog'))
    ->{repositories}, [ 'bob/img', 'lib/a', 'lib/b', 'lib/c/d' ],
    'bob sees his namespace and lib/');
$r = as('bob', 'builders', 'GET', '/v2/_catalog?n=2');
is_deeply(json_of($r)->{repositories}, [ 'bob/img', 'lib/a' ], 'page 1');
like(hdr($r, 'link') // '', qr{last=lib%2Fa&n=2}, 'next page link');
$r = as('bob', 'builders', 'GET', '/v2/_catalog?n=2&last=lib%2Fa');
is_deeply(json_of($r)->{repositories}, [ 'lib/b', 'lib/c/d' ], 'page 2');
ok(!defined hdr($r, 'link'), 'no link after the last page');
is_deeply(json_of(as('dave', undef, 'GET', '/v2/_catalog'))->{repositories},
    [], 'a user with no rights sees nothing');

# cross-repository mount needs pull on from

$r = as('bob', undef, 'POST', "/v2/bob/new/blobs/uploads/?mount=$D&from=lib/a");
is($r->{status}, 202, 'no pull on from: a plain upload');
$r = as('bob', 'builders', 'POST',
    "/v2/bob/new/blobs/uploads/?mount=$D&from=lib/a");
is($r->{status}, 201, 'pull on from: mounted');

# anonymous reads on the second server

is($t->get('/v2/', port => 2)->{status}, 200,
    'base open when a rule grants nobody something');
is($t->get('/v2/_catalog', port => 2)->{status}, 200, 'so is the catalog');
oci_error_is($t->get('/v2/lib/a/tags/list', port => 2), 401, 'UNAUTHORIZED',
    'nobody outside open/');

$t->stop;

# configuration errors

for my $bad ([ 'registry_allow pull,fly * anonymous;', qr/invalid action/ ],
    [ 'registry_allow pull * someone;', qr/invalid "someone"/ ],
    [ 'registry_allow pull "" anonymous;', qr/empty repository pattern/ ])
{
    my $c = Hephaestus::Test->new(extra_location => "$bad->[0]\n");
    write_file($c->dir . '/nginx.conf', $c->nginx_conf);
    my $d = $c->dir;
    my $out = `/usr/sbin/nginx -t -p $d/ -c $d/nginx.conf -e $d/error.log 2>&1`;
    like($out, $bad->[1], "refused: $bad->[0]");
}

done_testing();
