#!/usr/bin/perl

# Tests for blob uploads: POST, PATCH, PUT, status, cancel, mount.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Hephaestus::Test qw(:all);

my $t = Hephaestus::Test->new()->run();

my $UUID = qr/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

sub path_of { my ($loc) = @_; $loc =~ s{^https?://[^/]+}{}; $loc }

# start a session

my $r = $t->post('/v2/up/blobs/uploads/');
is($r->{status}, 202, 'post status');
my $loc = hdr($r, 'location') // '';
like($loc, qr{^/v2/up/blobs/uploads/$UUID$}, 'post location relative');
my ($uuid) = $loc =~ m{/uploads/([^/?]+)};
$uuid //= '';
is(hdr($r, 'docker-upload-uuid'), $uuid, 'post upload uuid');
is(hdr($r, 'range'), '0-0', 'post range');
is(hdr($r, 'content-length'), '0', 'post content length');
is(hdr($r, 'docker-distribution-api-version'), 'registry/2.0',
    'post api version');
ok(-d $t->upload_dir('up', $uuid), 'session folder on disk');

$r = $t->post('/v2/up/blobs/uploads');
is($r->{status}, 202, 'post without trailing slash');
like(hdr($r, 'location') // '', qr{^/v2/up/blobs/uploads/$UUID$},
    'post without trailing slash location');

# status of an empty session

$r = $t->get($loc);
is($r->{status}, 204, 'status empty');
is(hdr($r, 'range'), '0-0', 'status empty range');
is(hdr($r, 'docker-upload-uuid'), $uuid, 'status empty uuid');
ok(defined hdr($r, 'location'), 'status empty location');
$loc = hdr($r, 'location') || $loc;

# patch with content length

my $content = '';

$r = $t->patch($loc, body => 'hello ');
$content .= 'hello ';
is($r->{status}, 202, 'patch status');
is(hdr($r, 'range'), '0-5', 'patch range');
is(hdr($r, 'docker-upload-uuid'), $uuid, 'patch uuid');
is(hdr($r, 'content-length'), '0', 'patch content length');
like(hdr($r, 'location') // '', qr{^/v2/up/blobs/uploads/$uuid},
    'patch location');
$loc = hdr($r, 'location') || $loc;
is(-s $t->upload_dir('up', $uuid) . '/data', 6, 'patch data on disk');

# chunked patch without content type

my @chunks = ('wor', 'ld', '');
$r = $t->raw([ 'PATCH ' . path_of($loc) . ' HTTP/1.1', 'Host: ' . $t->host,
    'Transfer-Encoding: chunked', 'Connection: close' ],
    sub { shift @chunks });
$content .= 'world';
is($r->{status}, 202, 'chunked patch status');
is(hdr($r, 'range'), '0-10', 'chunked patch range');
$loc = hdr($r, 'location') || $loc;
is(-s $t->upload_dir('up', $uuid) . '/data', 11, 'chunked patch on disk');

# content type ignored

$r = $t->patch($loc, headers => {
    'content-type' => 'application/x-www-form-urlencoded' }, body => 'a=b&');
$content .= 'a=b&';
is($r->{status}, 202, 'form content type patch status');
is(hdr($r, 'range'), '0-14', 'form content type patch range');
$loc = hdr($r, 'location') || $loc;

# content range in order

$r = $t->patch($loc, headers => { 'content-range' => '15-19' },
    body => '12345');
$content .= '12345';
is($r->{status}, 202, 'in order range status');
is(hdr($r, 'range'), '0-19', 'in order range');
$loc = hdr($r, 'location') || $loc;

$r = $t->patch($loc, headers => { 'content-range' => 'bytes 20-21' },
    body => 'ab');
$content .= 'ab';
is($r->{status}, 202, 'bytes prefix range status');
is(hdr($r, 'range'), '0-21', 'bytes prefix range');
$loc = hdr($r, 'location') || $loc;

# content range out of order

$r = $t->patch($loc, headers => { 'content-range' => '30-34' },
    body => 'XXXXX');
oci_error_is($r, 416, 'BLOB_UPLOAD_INVALID', 'out of order range');
is(hdr($r, 'range'), '0-21', 'out of order current range');
is(-s $t->upload_dir('up', $uuid) . '/data', 22,
    'out of order nothing appended');

$r = $t->patch($loc, headers => { 'content-range' => '0-4' },
    body => 'XXXXX');
oci_error_is($r, 416, 'BLOB_UPLOAD_INVALID', 'rewind range');

$r = $t->patch($loc, headers => { 'content-range' => '22-29' },
    body => 'XYZ');
oci_error_is($r, 416, 'BLOB_UPLOAD_INVALID', 'range length mismatch');
is(-s $t->upload_dir('up', $uuid) . '/data', 22,
    'length mismatch nothing appended');

$r = $t->get($loc);
is($r->{status}, 204, 'status after refused ranges');
is(hdr($r, 'range'), '0-21', 'range after refused ranges');

# wrong and missing digest

my $final = $content . 'tail';
my $digest = sha256_digest($final);
my $wrong = sha256_digest('something else');

$r = $t->put(add_query($loc, "digest=$wrong"));
oci_error_is($r, 400, 'DIGEST_INVALID', 'wrong digest');
ok(!-e $t->blob_data($wrong), 'wrong digest no blob');
ok(!-e $t->blob_data($digest), 'wrong digest no blob under right digest');
ok(-d $t->upload_dir('up', $uuid), 'wrong digest session kept');

$r = $t->get($loc);
is($r->{status}, 204, 'wrong digest session alive');
is(hdr($r, 'range'), '0-21', 'wrong digest session size');

$r = $t->put($loc);
oci_error_is($r, 400, 'DIGEST_INVALID', 'missing digest');

# put with the last chunk

$r = $t->put(add_query($loc, "digest=$digest"), body => 'tail');
is($r->{status}, 201, 'put status');
is(hdr($r, 'location'), "/v2/up/blobs/$digest", 'put location');
is(hdr($r, 'docker-content-digest'), $digest, 'put digest header');
is(hdr($r, 'content-length'), '0', 'put content length');
is(read_file($t->blob_data($digest)), $final, 'blob data on disk');
is(read_file($t->layer_link('up', $digest)), $digest, 'layer link on disk');
ok(!-e $t->upload_dir('up', $uuid), 'session folder removed');

$r = $t->get("/v2/up/blobs/$digest");
is($r->{status}, 200, 'get uploaded blob');
is($r->{content}, $final, 'get uploaded blob content');

# finished session

oci_error_is($t->get($loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'finished get');
oci_error_is($t->patch($loc, body => 'x'), 404, 'BLOB_UPLOAD_UNKNOWN',
    'finished patch');
oci_error_is($t->put(add_query($loc, "digest=$digest")), 404,
    'BLOB_UPLOAD_UNKNOWN', 'finished put');
oci_error_is($t->delete($loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'finished delete');

# cancel

(undef, $loc) = $t->upload_start('up');
my ($cuuid) = ($loc // '') =~ m{/uploads/([^/?]+)};
$cuuid //= '';
$r = $t->patch($loc, body => 'to be cancelled');
$loc = hdr($r, 'location') || $loc;
ok(-d $t->upload_dir('up', $cuuid), 'cancel session exists');
$r = $t->delete($loc);
is($r->{status}, 204, 'cancel status');
ok(!-e $t->upload_dir('up', $cuuid), 'cancel session folder removed');
oci_error_is($t->get($loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'cancelled get');
oci_error_is($t->patch($loc, body => 'x'), 404, 'BLOB_UPLOAD_UNKNOWN',
    'cancelled patch');
oci_error_is($t->delete($loc), 404, 'BLOB_UPLOAD_UNKNOWN', 'cancelled delete');

# unknown session

my $unknown = '/v2/up/blobs/uploads/01234567-89ab-4cde-8f01-23456789abcd';
oci_error_is($t->get($unknown), 404, 'BLOB_UPLOAD_UNKNOWN', 'unknown get');
oci_error_is($t->patch($unknown, body => 'x'), 404, 'BLOB_UPLOAD_UNKNOWN',
    'unknown patch');
oci_error_is($t->put("$unknown?digest=$digest"), 404, 'BLOB_UPLOAD_UNKNOWN',
    'unknown put');
oci_error_is($t->delete($unknown), 404, 'BLOB_UPLOAD_UNKNOWN',
    'unknown delete');
ok(!-e $t->upload_dir('up', '01234567-89ab-4cde-8f01-23456789abcd'),
    'unknown session not created');

oci_error_is($t->get('/v2/up/blobs/uploads/nothex'), 404,
    'BLOB_UPLOAD_UNKNOWN', 'malformed uuid get');

(undef, $loc) = $t->upload_start('up');
oci_error_is($t->get($loc =~ s{/v2/up/}{/v2/other/}r), 404,
    'BLOB_UPLOAD_UNKNOWN', 'session of another repository');
$t->delete($loc);

# monolithic post

my $mono = "monolithic blob\n" x 100;
my $md = sha256_digest($mono);
$r = $t->post("/v2/mono/blobs/uploads/?digest=$md", body => $mono);
is($r->{status}, 201, 'monolithic status');
is(hdr($r, 'location'), "/v2/mono/blobs/$md", 'monolithic location');
is(hdr($r, 'docker-content-digest'), $md, 'monolithic digest');
is(read_file($t->blob_data($md)), $mono, 'monolithic blob on disk');
is(read_file($t->layer_link('mono', $md)), $md, 'monolithic link on disk');
is($t->get("/v2/mono/blobs/$md")->{content}, $mono, 'monolithic get');

my $before = $t->snapshot();
$r = $t->post('/v2/mono/blobs/uploads/?digest=' . sha256_digest('other'),
    body => 'not other');
oci_error_is($r, 400, 'DIGEST_INVALID', 'monolithic wrong digest');
my @left = grep { !exists $before->{$_} } keys %{ $t->snapshot() };
ok(!grep({ !m{/_uploads$} } @left), 'monolithic wrong digest nothing kept')
    or diag(join "\n", @left);
ok(!-e $t->blob_data(sha256_digest('not other')),
    'monolithic wrong digest no blob');

# mount

my $mb = "blob to mount\n" x 50;
my $mdg = $t->push_blob('lab/src', $mb);
my $blobs_before = () = glob($t->v2 . '/blobs/sha256/*/*/data');

$r = $t->post("/v2/dst1/blobs/uploads/?mount=$mdg&from=lab/src");
is($r->{status}, 201, 'mount status');
is(hdr($r, 'location'), "/v2/dst1/blobs/$mdg", 'mount location');
is(hdr($r, 'docker-content-digest'), $mdg, 'mount digest');
is(read_file($t->layer_link('dst1', $mdg)), $mdg, 'mount link on disk');
is($t->get("/v2/dst1/blobs/$mdg")->{content}, $mb, 'mounted blob get');

$r = $t->post("/v2/dst2/blobs/uploads/?from=lab/src&mount=$mdg");
is($r->{status}, 201, 'mount from first status');
is(read_file($t->layer_link('dst2', $mdg)), $mdg, 'mount from first link');

(my $enc = $mdg) =~ s/:/%3A/;
$r = $t->post("/v2/dst3/blobs/uploads/?from=lab%2Fsrc&mount=$enc");
is($r->{status}, 201, 'mount percent encoded status');
is(hdr($r, 'docker-content-digest'), $mdg, 'mount percent encoded digest');
is(read_file($t->layer_link('dst3', $mdg)), $mdg, 'mount percent encoded link');

my $blobs_after = () = glob($t->v2 . '/blobs/sha256/*/*/data');
is($blobs_after, $blobs_before, 'mount stores no new blob');

# mount fallback

my $absent = sha256_digest('never pushed');
for my $q ("mount=$absent&from=lab/src", "mount=$mdg",
    "mount=$mdg&from=Lab/Src", "mount=$mdg&from=dst-none",
    "mount=$mdg&from=")
{
    $r = $t->post("/v2/fall/blobs/uploads/?$q");
    is($r->{status}, 202, "mount fallback $q");
    like(hdr($r, 'location') // '', qr{^/v2/fall/blobs/uploads/$UUID$},
        "mount fallback $q location");
    is(hdr($r, 'range'), '0-0', "mount fallback $q range");
    $t->delete(hdr($r, 'location')) if hdr($r, 'location');
}

ok(!-e $t->layer_link('fall', $mdg), 'mount fallback no link');

# concurrent uploads of one blob to two repositories

my $big = join '', map { sprintf "%07d concurrent line\n", $_ } 1 .. 300000;
my $bd = sha256_digest($big);
my @pids;

for my $repo (qw(conc1 conc2)) {
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        my $ua = HTTP::Tiny->new(timeout => 60);
        my $base = $t->base;
        my $res = $ua->post("$base/v2/$repo/blobs/uploads/",
            { headers => { 'content-length' => 0 } });
        my $l = $res->{headers}{location} // '';
        $l = $base . $l unless $l =~ /^http/;
        $res = $ua->request('PATCH', $l, { content => $big });
        $l = $res->{headers}{location} // $l;
        $l = $base . $l unless $l =~ /^http/;
        $res = $ua->put(add_query($l, "digest=$bd"),
            { headers => { 'content-length' => 0 } });
        POSIX::_exit($res->{status} == 201 ? 0 : 1);
    }
    push @pids, $pid;
}

my %rc;
my $end = time + 60;
while (keys %rc < @pids && time < $end) {
    for my $pid (@pids) {
        next if exists $rc{$pid};
        $rc{$pid} = $? >> 8 if waitpid($pid, WNOHANG) == $pid;
    }
    sleep 0.05;
}
kill 'KILL', grep { !exists $rc{$_} } @pids;

is_deeply([ map { $rc{$_} } @pids ], [ 0, 0 ], 'concurrent uploads both 201');
is(-s $t->blob_data($bd), length $big, 'concurrent blob on disk');
(my $bdir = $t->blob_data($bd)) =~ s{/data$}{};
is_deeply([ map { s{.*/}{}r } glob("$bdir/* $bdir/.*[!.]*") ], [ 'data' ],
    'concurrent blob folder holds one file');
is(read_file($t->layer_link($_, $bd)), $bd, "concurrent link $_")
    for qw(conc1 conc2);
is($t->get("/v2/conc2/blobs/$bd")->{content}, $big, 'concurrent blob content');

# session continued by a fresh nginx

(undef, $loc) = $t->upload_start('restart');
my ($ruuid) = ($loc // '') =~ m{/uploads/([^/?]+)};
$r = $t->patch($loc, body => 'before restart;');
is($r->{status}, 202, 'patch before restart');
$loc = hdr($r, 'location') || $loc;

$t->restart();

$r = $t->get($loc);
is($r->{status}, 204, 'status after restart');
is(hdr($r, 'range'), '0-14', 'range after restart');
$r = $t->patch($loc, body => 'after restart');
is($r->{status}, 202, 'patch after restart');
is(hdr($r, 'range'), '0-27', 'patch after restart range');
$loc = hdr($r, 'location') || $loc;
my $rd = sha256_digest('before restart;after restart');
$r = $t->put(add_query($loc, "digest=$rd"));
is($r->{status}, 201, 'put after restart');
is(read_file($t->blob_data($rd)), 'before restart;after restart',
    'blob after restart on disk');

$t->stop();

done_testing();
