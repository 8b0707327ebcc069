#!/usr/bin/perl

# Tests for the base endpoint /v2/ and the headers every answer carries.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Hephaestus::Test qw(:all);

my $t = Hephaestus::Test->new()->run();

# base endpoint

my $r = $t->get('/v2/');
is($r->{status}, 200, 'get base status');
is($r->{content}, '{}', 'get base body');
is(hdr($r, 'content-type'), 'application/json; charset=utf-8',
    'get base content type');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'get base api version');
is(hdr($r, 'x-content-type-options'), 'nosniff', 'get base nosniff');

$r = $t->head('/v2/');
is($r->{status}, 200, 'head base status');
is($r->{content} // '', '', 'head base no body');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'head base api version');

# what clients push is never sniffed into a page (found in review: a
# manifest could be served as text/html from the UI's origin)

$r = $t->get('/v2/foo/blobs/sha256:' . ('0' x 64));
is(hdr($r, 'x-content-type-options'), 'nosniff', 'blob error nosniff');

# unknown endpoints

for my $path ('/v2/foo/bar', '/v2/foo/blobs', '/v2/foo/tags',
    '/v2/foo/manifests/', '/v2/foo/wiki/latest', '/v2/_catalogue')
{
    oci_error_is($t->get($path), 404, 'UNSUPPORTED', "unknown endpoint $path");
}

$r = $t->get('/v2/foo/bar');
is(eval { json_of($r)->{errors}[0]{message} }, 'unknown endpoint',
    'unknown endpoint message');

oci_error_is($t->head('/v2/foo/bar'), 404, 'UNSUPPORTED',
    'unknown endpoint head');

# wrong methods

$r = $t->req('DELETE', '/v2/');
oci_error_is($r, 405, 'UNSUPPORTED', 'delete base');
ok(defined hdr($r, 'allow'), 'delete base allow header');

$r = $t->put('/v2/foo/tags/list');
oci_error_is($r, 405, 'UNSUPPORTED', 'put tags list');
like(hdr($r, 'allow') // '', qr/\bGET\b/, 'put tags list allow header');

$r = $t->post('/v2/foo/manifests/latest');
oci_error_is($r, 405, 'UNSUPPORTED', 'post manifest');
like(hdr($r, 'allow') // '', qr/\bPUT\b/, 'post manifest allow header');

$r = $t->req('PATCH', '/v2/foo/blobs/sha256:' . ('a' x 64));
oci_error_is($r, 405, 'UNSUPPORTED', 'patch blob');

$r = $t->req('OPTIONS', '/v2/_catalog');
oci_error_is($r, 405, 'UNSUPPORTED', 'options catalog');

# api version header on nginx's own error pages

my (undef, $loc) = $t->upload_start('foo');
$loc =~ s{^https?://[^/]+}{};
$r = $t->raw([ "PATCH $loc HTTP/1.1", 'Host: ' . $t->host,
    'Transfer-Encoding: chunked', 'Connection: close' ], "zz\r\nbroken\r\n");
is($r->{status}, 400, 'broken chunked body status');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'broken chunked body api version');

$r = $t->get('/v2/' . ('a' x 300) . '/tags/list');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'long name api version');

# an empty data folder owned by the workers is enough

my $bare = Hephaestus::Test->new(bare_data => 1)->run();
$r = $bare->post('/v2/fresh/blobs/uploads/');
is($r->{status}, 202, 'upload into a bare data folder');
ok(-d $bare->upload_dir('fresh'), 'bare data folder session on disk');
$r = $bare->put('/v2/fresh/manifests/v1',
    headers => { 'content-type' => 'application/vnd.oci.image.index.v1+json' },
    body => '{"schemaVersion":2,"mediaType":'
        . '"application/vnd.oci.image.index.v1+json","manifests":[]}');
is($r->{status}, 201, 'manifest into a bare data folder');
$bare->stop();

# nothing written but the store's folders

is_deeply([ grep { !/^docker$/ } map { s{.*/}{}r } glob($t->data . '/*') ],
    [], 'no stray files in the data folder');

$t->stop();

done_testing();
