#!/usr/bin/perl

# Tests for manifests: the four media types, validation, tags, deletes.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP;
use Test::More;
use Hephaestus::Test qw(:all);
use Hephaestus::Images qw(:DEFAULT OCI_MANIFEST OCI_INDEX D2_MANIFEST D2_LIST
    OCI_LAYER OCI_CONFIG);

my $t = Hephaestus::Test->new()->run();
my $img = Hephaestus::Images->new($t->dir . '/images');

my $ACCEPT = join ', ', OCI_MANIFEST, OCI_INDEX, D2_MANIFEST, D2_LIST;
my %H = (headers => { accept => $ACCEPT });

my $oci = $img->busybox;
my $idx = $img->index;
my $d2 = $img->docker_v2s2($oci);
my $dl = $img->docker_list(map { $img->docker_v2s2($_) }
    @{ $idx->{children} });

# the four media types

for my $case ([ 'oci manifest', 'm/oci', $oci ], [ 'oci index', 'm/idx', $idx ],
    [ 'docker manifest', 'm/d2', $d2 ], [ 'docker list', 'm/dl', $dl ])
{
    my ($name, $repo, $m) = @$case;
    my $d = $m->{digest};

    my $r = $t->push_image($repo, 'v1', $m);
    is(hdr($r, 'location'), "/v2/$repo/manifests/$d", "$name put location");
    is(hdr($r, 'docker-content-digest'), $d, "$name put digest");
    is(hdr($r, 'content-length'), '0', "$name put content length");
    ok(!defined hdr($r, 'oci-subject'), "$name put no subject header");

    is(read_file($t->blob_data($d)), $m->{manifest}, "$name bytes on disk");
    is(read_file($t->revision_link($repo, $d)), $d, "$name revision link");
    is(read_file($t->tag_link($repo, 'v1')), $d, "$name tag link");
    is(read_file($t->tag_index_link($repo, 'v1', $d)), $d,
        "$name tag index link");

    for my $ref ('v1', $d) {
        my $what = $ref eq 'v1' ? 'tag' : 'digest';

        $r = $t->get("/v2/$repo/manifests/$ref", %H);
        is($r->{status}, 200, "$name get by $what");
        ok($r->{content} eq $m->{manifest}, "$name get by $what exact bytes");
        is(hdr($r, 'content-type'), $m->{media_type},
            "$name get by $what content type");
        is(hdr($r, 'content-length'), $m->{size},
            "$name get by $what content length");
        is(hdr($r, 'docker-content-digest'), $d, "$name get by $what digest");
        is(hdr($r, 'etag'), qq{"$d"}, "$name get by $what etag");

        $r = $t->head("/v2/$repo/manifests/$ref", %H);
        is($r->{status}, 200, "$name head by $what");
        is($r->{content} // '', '', "$name head by $what no body");
        is(hdr($r, 'content-type'), $m->{media_type},
            "$name head by $what content type");
        is(hdr($r, 'content-length'), $m->{size},
            "$name head by $what content length");
        is(hdr($r, 'docker-content-digest'), $d, "$name head by $what digest");
    }

    $r = $t->get("/v2/$repo/manifests/v1",
        headers => { accept => $ACCEPT, 'if-none-match' => qq{"$d"} });
    is($r->{status}, 304, "$name if-none-match");

    $r = $t->get("/v2/$repo/manifests/$d");
    is($r->{status}, 200, "$name get without accept");
    is(hdr($r, 'content-type'), $m->{media_type},
        "$name get without accept content type");

    $r = $t->get("/v2/$repo/manifests/v1",
        headers => { accept => 'application/vnd.example.other+json' });
    is($r->{status}, 200, "$name get with foreign accept");
    ok($r->{content} eq $m->{manifest}, "$name get with foreign accept bytes");

    $r = $t->put_manifest($repo, $d, $m->{manifest}, $m->{media_type});
    is($r->{status}, 201, "$name put by digest");
    is(hdr($r, 'docker-content-digest'), $d, "$name put by digest header");
}

is(read_file($t->revision_link('m/idx', $idx->{children}[1]{digest})),
    $idx->{children}[1]{digest}, 'index child revision link');

# content type

my $before = $t->snapshot();
my $unknown = 'application/vnd.example.unknown+json';

my $r = $t->put_manifest('m/oci', 'ct', $oci->{manifest}, D2_MANIFEST);
oci_error_is($r, 400, 'MANIFEST_INVALID', 'content type mismatch');
is(eval { json_of($r)->{errors}[0]{detail} },
    'mediaType does not match content type',
    'content type mismatch: the detail says why');

$r = $t->put_manifest('m/oci', 'ct', '{"schemaVersion":2,', OCI_MANIFEST);
oci_error_is($r, 400, 'MANIFEST_INVALID', 'truncated json');
like(eval { json_of($r)->{errors}[0]{detail} } // '', qr/^invalid json: /,
    'truncated json: the detail says why');

$r = $t->put_manifest('m/oci', 'ct', $oci->{manifest},
    'application/vnd.example.unknown+json');
oci_error_is($r, 400, 'MANIFEST_INVALID', 'unknown content type');

my $unknown_mt = $oci->{manifest}
    =~ s/\Q"mediaType":"@{[ OCI_MANIFEST ]}"\E/"mediaType":"$unknown"/r;
isnt($unknown_mt, $oci->{manifest}, 'manifest with unknown media type');
$r = $t->put_manifest('m/oci', 'ct', $unknown_mt,
    'application/vnd.example.unknown+json');
oci_error_is($r, 400, 'MANIFEST_INVALID', 'unknown media type');

$t->snapshot_is($before, 'content type errors change nothing on disk');

my $len = length $oci->{manifest};
$r = $t->raw([ 'PUT /v2/m/oci/manifests/nocontenttype HTTP/1.1',
    'Host: ' . $t->host, "Content-Length: $len", 'Connection: close' ],
    $oci->{manifest});
is($r->{status}, 201, 'no content type with media type field');
is(hdr($r, 'docker-content-digest'), $oci->{digest},
    'no content type digest');
$r = $t->get('/v2/m/oci/manifests/nocontenttype', %H);
is(hdr($r, 'content-type'), OCI_MANIFEST, 'no content type stored type');

# invalid manifests

$before = $t->snapshot();

for my $bad ([ 'invalid json', '{"schemaVersion":2,' ],
    [ 'not an object', '[1,2,3]' ],
    [ 'empty body', '' ],
    [ 'schema version 1', JSON::PP->new->canonical->encode({
        schemaVersion => 1, mediaType => OCI_MANIFEST,
        config => {
            mediaType => OCI_CONFIG, digest => $oci->{config_digest},
            size => length $oci->{config} },
        layers => [] }) ],
    [ 'layers not a list', JSON::PP->new->canonical->encode({
        schemaVersion => 2, mediaType => OCI_MANIFEST,
        config => { mediaType => OCI_CONFIG,
            digest => $oci->{config_digest}, size => length $oci->{config} },
        layers => 'none' }) ],
    [ 'no config', JSON::PP->new->canonical->encode({
        schemaVersion => 2, mediaType => OCI_MANIFEST, layers => [] }) ])
{
    my ($name, $body) = @$bad;
    $r = $t->put('/v2/m/oci/manifests/bad',
        headers => { 'content-type' => OCI_MANIFEST }, body => $body);
    oci_error_is($r, 400, 'MANIFEST_INVALID', $name);
}

$t->snapshot_is($before, 'invalid manifests change nothing on disk');

# missing blobs

my $absent = sha256_digest('missing layer');
my $missing = JSON::PP->new->canonical->encode({
    schemaVersion => 2, mediaType => OCI_MANIFEST,
    config => { mediaType => OCI_CONFIG, digest => $oci->{config_digest},
        size => length $oci->{config} },
    layers => [ { mediaType => OCI_LAYER, digest => $absent, size => 13 } ],
});
$before = $t->snapshot();
$r = $t->put_manifest('m/oci', 'missing', $missing, OCI_MANIFEST);
oci_error_is($r, 400, 'MANIFEST_BLOB_UNKNOWN', 'missing layer');
is(eval { json_of($r)->{errors}[0]{detail} }, $absent, 'missing layer detail');

$r = $t->put_manifest('m/other', 'foreign', $oci->{manifest}, OCI_MANIFEST);
oci_error_is($r, 400, 'MANIFEST_BLOB_UNKNOWN',
    'blobs only in another repository');
ok(!-e $t->repo_dir('m/other') . '/_manifests', 'foreign blobs no manifest');

my $child = sha256_digest('missing child');
my $orphan = JSON::PP->new->canonical->encode({
    schemaVersion => 2, mediaType => OCI_INDEX,
    manifests => [ { mediaType => OCI_MANIFEST, digest => $child,
        size => 100, platform => { architecture => 'amd64', os => 'linux' } } ],
});
$r = $t->put_manifest('m/oci', 'orphan', $orphan, OCI_INDEX);
oci_error_is($r, 400, 'MANIFEST_BLOB_UNKNOWN', 'missing child manifest');
is(eval { json_of($r)->{errors}[0]{detail} }, $child,
    'missing child manifest detail');

$t->snapshot_is($before, 'missing blobs change nothing on disk');

# digest mismatch

$r = $t->put_manifest('m/oci', $d2->{digest}, $oci->{manifest}, OCI_MANIFEST);
oci_error_is($r, 400, 'DIGEST_INVALID', 'put by wrong digest');
$t->snapshot_is($before, 'wrong digest changes nothing on disk');

# invalid references

for my $ref ('bad!tag', 'a' x 129, '-leading', '.dot') {
    $r = $t->put_manifest('m/oci', $ref, $oci->{manifest}, OCI_MANIFEST);
    my $short = substr($ref, 0, 10);
    oci_error_is($r, 400, 'MANIFEST_INVALID', "put invalid reference $short");
    oci_error_is($t->get("/v2/m/oci/manifests/$ref", %H), 404,
        'MANIFEST_UNKNOWN', "get invalid reference $short");
}

$t->snapshot_is($before, 'invalid references change nothing on disk');

$r = $t->put_manifest('m/oci', 'a' x 128, $oci->{manifest}, OCI_MANIFEST);
is($r->{status}, 201, 'put 128 character tag');
$r = $t->put_manifest('m/oci', 'UPPER_case.tag-1', $oci->{manifest},
    OCI_MANIFEST);
is($r->{status}, 201, 'put upper case tag');

# size limit

my $limit = 4 * 1024 * 1024;
my $pad = sub {
    my ($size) = @_;
    my $m = JSON::PP->new->decode($oci->{manifest});
    $m->{annotations}{'org.example.pad'} = '';
    my $base = length JSON::PP->new->canonical->encode($m);
    $m->{annotations}{'org.example.pad'} = 'x' x ($size - $base);
    return JSON::PP->new->canonical->encode($m);
};

my $exact = $pad->($limit);
is(length $exact, $limit, 'padded manifest is 4 MiB');
$r = $t->put_manifest('m/oci', 'big', $exact, OCI_MANIFEST);
is($r->{status}, 201, 'manifest of exactly 4 MiB');
$r = $t->get('/v2/m/oci/manifests/big', %H);
ok($r->{content} eq $exact, 'manifest of 4 MiB exact bytes');

# manifests up to 16 KiB are answered from memory, bigger ones from the
# file: the same bytes, headers and ranges on both sides of the line

for my $size (16 * 1024, 16 * 1024 + 1) {
    my $body = $pad->($size);
    my $d = sha256_digest($body);
    $r = $t->put_manifest('m/oci', "edge$size", $body, OCI_MANIFEST);
    is($r->{status}, 201, "manifest of $size bytes");
    $r = $t->get("/v2/m/oci/manifests/edge$size", %H);
    ok($r->{content} eq $body, "manifest of $size bytes: exact bytes");
    is(hdr($r, 'content-length'), $size, "manifest of $size bytes: length");
    is(hdr($r, 'docker-content-digest'), $d,
        "manifest of $size bytes: digest");
    is(hdr($r, 'content-type'), OCI_MANIFEST,
        "manifest of $size bytes: type");
    $r = $t->get("/v2/m/oci/manifests/$d",
        headers => { accept => OCI_MANIFEST, range => 'bytes=10-19' });
    is($r->{status}, 206, "manifest of $size bytes: range");
    is($r->{content}, substr($body, 10, 10),
        "manifest of $size bytes: range bytes");
    is(hdr($r, 'content-range'), "bytes 10-19/$size",
        "manifest of $size bytes: content-range");
    $r = $t->get("/v2/m/oci/manifests/edge$size",
        headers => { accept => OCI_MANIFEST, 'if-none-match' => qq{"$d"} });
    is($r->{status}, 304, "manifest of $size bytes: if-none-match");
    is($r->{content} // '', '', "manifest of $size bytes: 304 has no body");
}

$before = $t->snapshot();
my $over = $pad->($limit + 1);
$r = $t->put_manifest('m/oci', 'toobig', $over, OCI_MANIFEST);
oci_error_is($r, 413, 'MANIFEST_INVALID', 'manifest over 4 MiB');
is(eval { json_of($r)->{errors}[0]{message} }, 'manifest too big',
    'manifest over 4 MiB message');

my @chunks = unpack('(a65536)*', $over);
$r = $t->raw([ 'PUT /v2/m/oci/manifests/toobig HTTP/1.1', 'Host: ' . $t->host,
    'Content-Type: ' . OCI_MANIFEST, 'Transfer-Encoding: chunked',
    'Connection: close' ], sub { shift @chunks });
oci_error_is($r, 413, 'MANIFEST_INVALID', 'chunked manifest over 4 MiB');
$t->snapshot_is($before, 'manifest over 4 MiB changes nothing on disk');

# tag move

my $multi = $img->multilayer;
$t->push_image('m/oci', 'mv', $oci);
$t->push_image('m/oci', 'mv', $multi);
$r = $t->get('/v2/m/oci/manifests/mv', %H);
is(hdr($r, 'docker-content-digest'), $multi->{digest}, 'moved tag digest');
ok($r->{content} eq $multi->{manifest}, 'moved tag bytes');
is(read_file($t->tag_link('m/oci', 'mv')), $multi->{digest},
    'moved tag link on disk');
is($t->get("/v2/m/oci/manifests/$oci->{digest}", %H)->{status}, 200,
    'old manifest kept after tag move');

# delete by tag

$r = $t->delete('/v2/m/oci/manifests/mv');
is($r->{status}, 202, 'delete tag status');
oci_error_is($t->get('/v2/m/oci/manifests/mv', %H), 404, 'MANIFEST_UNKNOWN',
    'deleted tag');
ok(!-e $t->tag_link('m/oci', 'mv'), 'deleted tag link gone');
is($t->get("/v2/m/oci/manifests/$multi->{digest}", %H)->{status}, 200,
    'manifest kept after tag delete');
is(read_file($t->revision_link('m/oci', $multi->{digest})), $multi->{digest},
    'revision kept after tag delete');
oci_error_is($t->delete('/v2/m/oci/manifests/mv'), 404, 'MANIFEST_UNKNOWN',
    'delete deleted tag');

# delete by digest

for my $tag (qw(t1 t2)) {
    $t->push_image('m/oci', $tag, $multi);
}
is(read_file($t->tag_link('m/oci', 't2')), $multi->{digest}, 'tags set');

$r = $t->delete("/v2/m/oci/manifests/$multi->{digest}");
is($r->{status}, 202, 'delete digest status');
for my $ref ('t1', 't2', $multi->{digest}) {
    oci_error_is($t->get("/v2/m/oci/manifests/$ref", %H), 404,
        'MANIFEST_UNKNOWN', "get $ref after digest delete");
}
ok(!-e $t->revision_link('m/oci', $multi->{digest}), 'revision link gone');
ok(!-e $t->tag_link('m/oci', 't1'), 'tag t1 link gone');
ok(!-e $t->tag_link('m/oci', 't2'), 'tag t2 link gone');
is($t->get('/v2/m/oci/manifests/v1', %H)->{status}, 200,
    'other manifest kept after digest delete');
oci_error_is($t->delete("/v2/m/oci/manifests/$multi->{digest}"), 404,
    'MANIFEST_UNKNOWN', 'delete deleted digest');

# subject

my $art = $img->artifact($oci);
$r = $t->push_image('m/oci', 'sbom', $art);
is(hdr($r, 'oci-subject'), $oci->{digest}, 'subject header');
$r = $t->get('/v2/m/oci/manifests/sbom', %H);
ok($r->{content} eq $art->{manifest}, 'artifact bytes');
is(hdr($r, 'content-type'), OCI_MANIFEST, 'artifact content type');

# unknown manifests

oci_error_is($t->get('/v2/m/oci/manifests/nope', %H), 404, 'MANIFEST_UNKNOWN',
    'unknown tag');
oci_error_is($t->head('/v2/m/oci/manifests/nope', %H), 404,
    'MANIFEST_UNKNOWN', 'head unknown tag');
oci_error_is($t->get('/v2/m/oci/manifests/' . sha256_digest('x'), %H), 404,
    'MANIFEST_UNKNOWN', 'unknown digest');
oci_error_is($t->get('/v2/m/none/manifests/v1', %H), 404, 'MANIFEST_UNKNOWN',
    'unknown repository');
oci_error_is($t->delete('/v2/m/oci/manifests/nope'), 404, 'MANIFEST_UNKNOWN',
    'delete unknown tag');
oci_error_is($t->get("/v2/m/oci/manifests/$oci->{config_digest}", %H), 404,
    'MANIFEST_UNKNOWN', 'blob digest is not a manifest');

$t->stop();

done_testing();
