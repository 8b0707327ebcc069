#!/usr/bin/perl

# Tests for hostile and malformed requests: names, traversal, digests,
# upload ids, JSON.  Each answer is the specification's error and the
# data folder stays exactly as it was.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(OCI_MANIFEST OCI_EMPTY);

my $t = Hephaestus::Test->new()->run();

# seed data and a secret outside the data folder

my $SECRET = 'TOPSECRET-' . $$;
write_file($t->dir . '/secret', $SECRET);
my $good = $t->push_blob('ok', '{}');
my $manifest = json_text({ schemaVersion => 2, mediaType => OCI_MANIFEST,
    config => { mediaType => OCI_EMPTY, digest => $good, size => 2 },
    layers => [] });
is($t->put_manifest('ok', 'v1', $manifest, OCI_MANIFEST)->{status}, 201,
    'seed manifest');
my (undef, $session) = $t->upload_start('ok');
$t->patch($session, body => 'partial');

my $before = $t->snapshot();

sub no_leak {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($r->{status} >= 400 && $r->{status} < 500, "$name refused")
        or diag("status $r->{status}");
    unlike($r->{content} // '', qr/\Q$SECRET\E|root:x:0:0/,
        "$name leaks nothing");
}

# invalid names

my @names = ('UPPER', 'Abc/def', 'a' x 256, 'a-', '-a', 'a.', '.a',
    'a..b', 'a_-b', 'a___b', 'a/.b', 'a/-b', 'a%20b', '_a',
    join('/', ('abc') x 64) . '/abcd', 'a@b', 'a:b', 'a;b');

for my $name (@names) {
    my $short = length $name > 20 ? substr($name, 0, 12) . '...'
        . length($name) : $name;

    my $r = $t->get("/v2/$name/tags/list");
    oci_error_is($r, 400, 'NAME_INVALID', "tags of '$short'");
    my $detail = eval { json_of($r)->{errors}[0]{detail} } // '';
    (my $decoded = $name) =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    is($detail, $decoded, "tags of '$short' detail") if length $name < 300;
    is(eval { json_of($r)->{errors}[0]{message} }, 'invalid repository name',
        "tags of '$short' message");

    oci_error_is($t->get("/v2/$name/manifests/latest"), 400, 'NAME_INVALID',
        "manifest of '$short'");
    oci_error_is($t->put_manifest($name, 'latest', $manifest, OCI_MANIFEST),
        400, 'NAME_INVALID', "put manifest of '$short'");
    oci_error_is($t->get("/v2/$name/blobs/$good"), 400, 'NAME_INVALID',
        "blob of '$short'");
    oci_error_is($t->head("/v2/$name/blobs/$good"), 400, 'NAME_INVALID',
        "head blob of '$short'");
    oci_error_is($t->post("/v2/$name/blobs/uploads/"), 400, 'NAME_INVALID',
        "upload to '$short'");
    oci_error_is($t->delete("/v2/$name/blobs/$good"), 400, 'NAME_INVALID',
        "delete blob of '$short'");
    oci_error_is($t->get("/v2/$name/referrers/$good"), 400, 'NAME_INVALID',
        "referrers of '$short'");
}

my $long = join('/', ('a' x 50) x 4) . '/' . ('a' x 51);
is(length $long, 255, 'longest name is 255 characters');
oci_error_is($t->get("/v2/$long/tags/list"), 404, 'NAME_UNKNOWN',
    'name of 255 characters is valid');

$t->snapshot_is($before, 'invalid names change nothing on disk');

# path traversal

for my $path ('/v2/a/../../etc/blobs/' . $good,
    '/v2/ok/../../../../../etc/passwd',
    '/v2/../secret',
    '/v2/%2e%2e/%2e%2e/secret',
    '/v2/ok/%2e%2e/%2e%2e/%2e%2e/secret',
    '/v2/..%2f..%2f..%2fsecret/tags/list',
    '/v2/ok%2f..%2f..%2f..%2f..%2fsecret/tags/list',
    '/v2/ok/blobs/sha256:..%2f..%2f..%2f..%2f..%2f..%2fsecret',
    '/v2/ok/blobs/..%2f..%2f..%2f..%2f..%2fsecret',
    '/v2/ok/manifests/..%2f..%2f..%2f..%2fsecret',
    '/v2/ok/blobs/uploads/..%2f..%2f..%2f..%2fsecret',
    '/v2/ok/blobs/uploads/%2e%2e',
    '/v2/ok/tags/list/../../../../secret',
    '/v2/ok/blobs/sha256%3a..%2f..%2f..%2f..%2f..%2fsecret')
{
    no_leak($t->raw([ "GET $path HTTP/1.1", 'Host: ' . $t->host,
        'Connection: close' ]), "get $path");
    no_leak($t->raw([ "DELETE $path HTTP/1.1", 'Host: ' . $t->host,
        'Connection: close' ]), "delete $path");
    no_leak($t->raw([ "PUT $path HTTP/1.1", 'Host: ' . $t->host,
        'Content-Type: ' . OCI_MANIFEST, 'Content-Length: ' . length($manifest),
        'Connection: close' ], $manifest), "put $path");
}

is(read_file($t->dir . '/secret'), $SECRET, 'secret untouched');
$t->snapshot_is($before, 'traversal changes nothing on disk');

# malformed digests

my $hex = substr($good, 7);
my %digests = (
    'not hex'          => 'sha256:xyz',
    'short hex'        => 'sha256:' . substr($hex, 0, 63),
    'long hex'         => "sha256:${hex}0",
    'upper case hex'   => 'sha256:' . uc $hex,
    'empty hex'        => 'sha256:',
    'no algorithm'     => ":$hex",
    'no colon'         => "sha256$hex",
    'sha512 of 64'     => "sha512:$hex",
    'upper algorithm'  => "SHA256:$hex",
);
my %unsupported = (
    'md5'              => 'md5:' . substr($hex, 0, 32),
    'sha1'             => 'sha1:' . substr($hex, 0, 40),
    'sha384'           => 'sha384:' . ($hex x 2),
);

for my $case (sort keys %digests, sort keys %unsupported) {
    my $d = $digests{$case} // $unsupported{$case};
    (my $q = $d) =~ s/([^A-Za-z0-9:.-])/sprintf '%%%02X', ord $1/ge;

    my $r = $t->get("/v2/ok/blobs/$q");
    oci_error_is($r, 400, 'DIGEST_INVALID', "get blob $case");
    like(eval { json_of($r)->{errors}[0]{message} } // '',
        qr/unsupported|algorithm/i, "get blob $case says unsupported")
        if $unsupported{$case};

    oci_error_is($t->head("/v2/ok/blobs/$q"), 400, 'DIGEST_INVALID',
        "head blob $case");
    oci_error_is($t->delete("/v2/ok/blobs/$q"), 400, 'DIGEST_INVALID',
        "delete blob $case");
    oci_error_is($t->put(add_query($session, "digest=$q")), 400,
        'DIGEST_INVALID', "put upload $case");
    oci_error_is($t->post("/v2/ok/blobs/uploads/?digest=$q", body => '{}'),
        400, 'DIGEST_INVALID', "monolithic upload $case");
    oci_error_is($t->post("/v2/ok/blobs/uploads/?mount=$q&from=ok"),
        400, 'DIGEST_INVALID', "mount $case");
    oci_error_is($t->get("/v2/ok/referrers/$q"), 400, 'DIGEST_INVALID',
        "referrers $case");
}

my $r = $t->put($session);
oci_error_is($r, 400, 'DIGEST_INVALID', 'put upload without digest');
$r = $t->put(add_query($session, 'digest='));
oci_error_is($r, 400, 'DIGEST_INVALID', 'put upload with empty digest');

# malformed digests as manifest references

for my $ref ('sha256:xyz', 'sha256:' . substr($hex, 0, 63), "md5:$hex",
    'sha256:..', 'sha256:.')
{
    (my $q = $ref) =~ s{/}{%2F}g;
    $r = $t->get("/v2/ok/manifests/$q");
    ok(($r->{status} == 400 || $r->{status} == 404)
        && (eval { json_of($r)->{errors}[0]{code} } // '')
        =~ /^(?:DIGEST_INVALID|MANIFEST_UNKNOWN)$/,
        "get manifest $ref is an OCI error")
        or diag("$r->{status} $r->{content}");
    $r = $t->put_manifest('ok', $q, $manifest, OCI_MANIFEST);
    ok($r->{status} == 400 && (eval { json_of($r)->{errors}[0]{code} } // '')
        =~ /^(?:DIGEST_INVALID|MANIFEST_INVALID)$/,
        "put manifest $ref is refused") or diag("$r->{status} $r->{content}");
    $r = $t->delete("/v2/ok/manifests/$q");
    ok(($r->{status} == 400 || $r->{status} == 404)
        && (eval { json_of($r)->{errors}[0]{code} } // '')
        =~ /^(?:DIGEST_INVALID|MANIFEST_UNKNOWN)$/,
        "delete manifest $ref is an OCI error")
        or diag("$r->{status} $r->{content}");
}

# malformed upload ids

for my $id ('ZZZ', '01234567-89ab-4cde-8f01-23456789abc',
    '01234567-89AB-4CDE-8F01-23456789ABCD',
    '01234567-89ab-4cde-8f01-23456789abcdx',
    '0123456789ab4cde8f0123456789abcdef01', '...', 'a%2e%2e')
{
    my $u = "/v2/ok/blobs/uploads/$id";
    oci_error_is($t->get($u), 404, 'BLOB_UPLOAD_UNKNOWN', "get upload $id");
    oci_error_is($t->patch($u, body => 'x'), 404, 'BLOB_UPLOAD_UNKNOWN',
        "patch upload $id");
    oci_error_is($t->put("$u?digest=$good"), 404, 'BLOB_UPLOAD_UNKNOWN',
        "put upload $id");
    oci_error_is($t->delete($u), 404, 'BLOB_UPLOAD_UNKNOWN',
        "delete upload $id");
}

# malformed manifests

for my $case ([ 'truncated', '{"schemaVersion":2,"mediaType":' ],
    [ 'nul byte', qq({"schemaVersion":2,\0"mediaType":"x"}) ],
    [ 'deep nesting', '[' x 100000 . ']' x 100000 ],
    [ 'huge number', '{"schemaVersion":' . ('9' x 5000) . '}' ],
    [ 'bad utf-8', qq({"schemaVersion":2,"mediaType":"\xff\xfe"}) ],
    [ 'trailing garbage', $manifest . 'garbage' ],
    [ 'string', '"manifest"' ],
    [ 'null', 'null' ])
{
    my ($name, $body) = @$case;
    $r = $t->put('/v2/ok/manifests/bad', body => $body,
        headers => { 'content-type' => OCI_MANIFEST });
    oci_error_is($r, 400, 'MANIFEST_INVALID', "manifest $name");
}

$t->snapshot_is($before, 'bad input changes nothing on disk');

# still serving

is($t->get("/v2/ok/blobs/$good")->{content}, '{}', 'blob still served');
is($t->get($session)->{status}, 204, 'session still alive');

$t->stop();

done_testing();
