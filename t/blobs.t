#!/usr/bin/perl

# Tests for blob GET, HEAD and DELETE.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha512_hex);
use Test::More;
use Hephaestus::Test qw(:all);

my $t = Hephaestus::Test->new(servers => <<'EOF2')->run();
    server {
        listen 127.0.0.1:%%PORT2%%;
        server_name nodelete;

        location /v2/ {
            registry on;
            registry_root %%DATA%%;
            client_max_body_size 0;
        }
    }
EOF2

my $blob = join '', map { sprintf "%04d blob line\n", $_ } 1 .. 400;
my $d = $t->push_blob('b1', $blob);
my $other = $t->push_blob('b2', 'another blob');
my $len = length $blob;

# get

my $r = $t->get("/v2/b1/blobs/$d");
is($r->{status}, 200, 'get status');
is($r->{content}, $blob, 'get body');
is(hdr($r, 'content-type'), 'application/octet-stream', 'get content type');
is(hdr($r, 'content-length'), $len, 'get content length');
is(hdr($r, 'docker-content-digest'), $d, 'get digest');
is(hdr($r, 'etag'), qq{"$d"}, 'get etag');
is(hdr($r, 'accept-ranges'), 'bytes', 'get accept ranges');
is(hdr($r, 'cache-control'), 'max-age=31536000', 'get cache control');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'get api version');

# head

$r = $t->head("/v2/b1/blobs/$d");
is($r->{status}, 200, 'head status');
is($r->{content} // '', '', 'head no body');
is(hdr($r, 'content-length'), $len, 'head content length');
is(hdr($r, 'docker-content-digest'), $d, 'head digest');
is(hdr($r, 'etag'), qq{"$d"}, 'head etag');
is(hdr($r, 'content-type'), 'application/octet-stream', 'head content type');

# range

$r = $t->get("/v2/b1/blobs/$d", headers => { range => 'bytes=0-3' });
is($r->{status}, 206, 'range status');
is($r->{content}, substr($blob, 0, 4), 'range body');
is(hdr($r, 'content-range'), "bytes 0-3/$len", 'range content range');

$r = $t->get("/v2/b1/blobs/$d", headers => { range => 'bytes=-10' });
is($r->{status}, 206, 'suffix range status');
is($r->{content}, substr($blob, -10), 'suffix range body');

$r = $t->get("/v2/b1/blobs/$d", headers => { range => 'bytes=100-' });
is($r->{status}, 206, 'open range status');
is($r->{content}, substr($blob, 100), 'open range body');

$r = $t->get("/v2/b1/blobs/$d",
    headers => { range => 'bytes=' . ($len + 10) . '-' . ($len + 20) });
is($r->{status}, 416, 'unsatisfiable range status');
is(hdr($r, 'content-range'), "bytes */$len", 'unsatisfiable content range');

# if-none-match

$r = $t->get("/v2/b1/blobs/$d", headers => { 'if-none-match' => qq{"$d"} });
is($r->{status}, 304, 'if-none-match status');
is($r->{content} // '', '', 'if-none-match no body');

$r = $t->get("/v2/b1/blobs/$d",
    headers => { 'if-none-match' => qq{"$other"} });
is($r->{status}, 200, 'if-none-match other etag');

# accept ignored

for my $accept ('application/vnd.oci.image.layer.v1.tar+gzip, */*',
    'application/vnd.oci.image.config.v1+json', 'text/html')
{
    $r = $t->get("/v2/b1/blobs/$d", headers => { accept => $accept });
    is($r->{status}, 200, "accept $accept status");
    is($r->{content}, $blob, "accept $accept body");
}

# unknown and foreign blobs

$r = $t->get("/v2/b2/blobs/$d");
oci_error_is($r, 404, 'BLOB_UNKNOWN', 'blob of another repository');
is(eval { json_of($r)->{errors}[0]{detail} }, $d, 'foreign blob detail');
oci_error_is($t->head("/v2/b2/blobs/$d"), 404, 'BLOB_UNKNOWN',
    'head blob of another repository');
is($t->head("/v2/b2/blobs/$d")->{content} // '', '', 'head 404 no body');

my $absent = sha256_digest('absent');
$r = $t->get("/v2/b1/blobs/$absent");
oci_error_is($r, 404, 'BLOB_UNKNOWN', 'unknown blob');
is(eval { json_of($r)->{errors}[0]{detail} }, $absent, 'unknown blob detail');
oci_error_is($t->get("/v2/nosuchrepo/blobs/$d"), 404, 'BLOB_UNKNOWN',
    'unknown repository');

# sha512

my $s512 = 'sha512:' . sha512_hex($blob);
my ($res, $loc) = $t->upload_start('b1');
$res = $t->patch($loc, body => $blob);
$loc = hdr($res, 'location') || $loc;
$res = $t->put(add_query($loc, "digest=$s512"));
is($res->{status}, 201, 'sha512 upload');
is(hdr($res, 'docker-content-digest'), $s512, 'sha512 upload digest');
is(read_file($t->blob_data($s512)), $blob, 'sha512 blob on disk');
$r = $t->get("/v2/b1/blobs/$s512");
is($r->{status}, 200, 'sha512 get');
is($r->{content}, $blob, 'sha512 get body');

# delete refused by registry_delete off

SKIP: {
    skip 'a second server needs nginx', 5 unless $t->is_nginx;

    $r = $t->get("/v2/b1/blobs/$d", port => 2);
    is($r->{status}, 200, 'no-delete server serves');
    $r = $t->delete("/v2/b1/blobs/$d", port => 2);
    oci_error_is($r, 405, 'UNSUPPORTED', 'delete refused');
    ok(-f $t->layer_link('b1', $d), 'delete refused link kept');
    oci_error_is($t->delete("/v2/b1/manifests/$d", port => 2), 405,
        'UNSUPPORTED', 'manifest delete refused');
    is($t->get("/v2/b1/blobs/$d")->{status}, 200, 'delete refused blob kept');
}

# delete

$r = $t->post("/v2/b3/blobs/uploads/?mount=$d&from=b1");
is($r->{status}, 201, 'mount before delete');

$r = $t->delete("/v2/b1/blobs/$d");
is($r->{status}, 202, 'delete status');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'delete api version');
ok(!-e $t->layer_link('b1', $d), 'delete removes link');
ok(-f $t->blob_data($d), 'delete keeps data for other repositories');

oci_error_is($t->get("/v2/b1/blobs/$d"), 404, 'BLOB_UNKNOWN',
    'get after delete');
oci_error_is($t->head("/v2/b1/blobs/$d"), 404, 'BLOB_UNKNOWN',
    'head after delete');
oci_error_is($t->delete("/v2/b1/blobs/$d"), 404, 'BLOB_UNKNOWN',
    'delete again');
is($t->get("/v2/b3/blobs/$d")->{content}, $blob,
    'mounted copy survives delete');
oci_error_is($t->delete("/v2/b1/blobs/$absent"), 404, 'BLOB_UNKNOWN',
    'delete unknown');

$t->stop();

done_testing();
