#!/usr/bin/perl

# Tests a full disk: the data folder is a small tmpfs while nginx keeps
# request bodies on the big disk, so bodies arrive whole and the library's
# writes hit ENOSPC.  Every failure answers 507 and leaves no partial blob,
# link, tag or session visible; the store goes on once space is freed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);
use Test::More;
use Hephaestus::Test qw(:all);

my $PAGE = 4096;
my $TMPFS_MIB = 8;

plan skip_all => 'needs root to mount a tmpfs' if $> != 0;
plan skip_all => 'the full disk is the nginx module\'s (TEST_TARGET)'
    if ($ENV{TEST_TARGET} || 'nginx') ne 'nginx';

# each ENOSPC is logged at crit by the module

my $t = Hephaestus::Test->new(
    expect_log => [ qr/\(28: No space left on device\)/ ]);
my $data = $t->data;
my ($owner, $mounted) = ($$, 0);

if (system('mount', '-t', 'tmpfs', '-o', "size=${TMPFS_MIB}m,mode=0755",
        'tmpfs', $data) != 0)
{
    plan skip_all => "mount -t tmpfs is not permitted here ($data)";
}
$mounted = 1;

END {
    if ($mounted && $$ == $owner) {

        # the workers hold the folder open: stop them first

        $t->kill_server if $t && $t->pid;
        if (system('umount', $data) != 0) {
            system('umount', '-l', $data);
        }
    }
}

make_path($t->v2);
$t->chown_data($data);

isnt((stat $data)[0], (stat $t->dir)[0],
    'data folder and client body temp folder on different file systems');

$t->run();

my $FILLER = "$data/filler";

# fill(k): the tmpfs full but for k pages (files there take whole pages,
# folders none)

sub fill {
    my ($k) = @_;
    open(my $fh, '>>:raw', $FILLER) or die "$FILLER: $!\n";
    my $page = "\0" x $PAGE;
    for (1 .. ($TMPFS_MIB * 1024 * 1024 / $PAGE) + 16) {
        my $n = syswrite($fh, $page);
        last unless $n;
    }
    my $size = -s $fh;
    $size -= $size % $PAGE;
    truncate($fh, $size - $k * $PAGE) or die "truncate: $!\n";
    close $fh;
}

sub unfill { unlink $FILLER or die "$FILLER: $!\n" }

sub free_kib {
    my $df = `df -Pk '$data' | tail -1`;
    return (split ' ', $df)[3];
}

sub uploads { [ sort glob($t->upload_dir($_[0]) . '/*') ] }

sub range_of {
    my ($loc) = @_;
    my $r = $t->get($loc);
    return $r->{status} == 204 ? hdr($r, 'range') : "status $r->{status}";
}

sub range_for { my ($n) = @_; $n ? '0-' . ($n - 1) : '0-0' }

sub is_507 {
    my ($r, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    oci_error_is($r, 507, 'UNKNOWN', $name);
    is(eval { json_of($r)->{errors}[0]{message} }, 'no space left on device',
        "$name message");
}

my $UUID = qr/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

# blobs for the manifests, and a tag to re-point later

my $cfg = '{"architecture":"amd64","os":"linux"}';
my $layer = "layer bytes\n" x 10;
my $cfg_d = $t->push_blob('fd', $cfg);
my $layer_d = $t->push_blob('fd', $layer);

sub manifest {
    my ($note) = @_;
    return json_text({
        schemaVersion => 2,
        mediaType => 'application/vnd.oci.image.manifest.v1+json',
        config => { mediaType => 'application/vnd.oci.image.config.v1+json',
            digest => $cfg_d, size => length $cfg },
        layers => [ { mediaType =>
            'application/vnd.oci.image.layer.v1.tar+gzip',
            digest => $layer_d, size => length $layer } ],
        annotations => { note => $note },
    });
}

my $OCI = 'application/vnd.oci.image.manifest.v1+json';
my $m_old = manifest('old');
my $r = $t->put_manifest('fd', 'v1', $m_old, $OCI);
is($r->{status}, 201, 'put manifest v1');

# a session with some content

my $content = 'A' x 100_000;
(undef, my $loc) = $t->upload_start('fd');
like($loc // '', qr{/uploads/$UUID$}, 'session started');
my ($uuid) = ($loc // '') =~ m{/uploads/([^/?]+)};
$uuid //= '';
$r = $t->patch($loc, body => $content);
is($r->{status}, 202, 'first patch');
$loc = hdr($r, 'location') || $loc;
is(range_of($loc), range_for(length $content), 'first patch range');
my $session_data = $t->upload_dir('fd', $uuid) . '/data';

###########################################################################
# a chunk bigger than the disk

my $before = $t->snapshot(ignore_uploads => 1);
my $uploads_before = uploads('fd');
my $free_before = free_kib();
my $big = join '', map { sprintf "%015d\n", $_ } 1 .. 1024 * 1024;
is(length $big, 16 * 1024 * 1024, '16 MiB chunk');

$r = $t->patch($loc, body => $big);
is_507($r, 'patch of 16 MiB on an 8 MiB disk');
is(range_of($loc), range_for(length $content),
    'session keeps its size after the failed patch');
is(-s $session_data, length $content, 'session data cut back on disk');
is(free_kib(), $free_before, 'the failed patch gave its space back');
$t->snapshot_is($before, 'failed patch: nothing new under blobs or links',
    ignore_uploads => 1);
is_deeply(uploads('fd'), $uploads_before, 'failed patch: no new session');

# a monolithic upload bigger than the disk

my $big_d = sha256_digest($big);
$r = $t->post("/v2/fd/blobs/uploads/?digest=$big_d", body => $big);
is_507($r, 'monolithic post of 16 MiB');
ok(!-e $t->blob_data($big_d), 'monolithic: no blob');
oci_error_is($t->get("/v2/fd/blobs/$big_d"), 404, 'BLOB_UNKNOWN',
    'monolithic: blob not served');
is_deeply(uploads('fd'), $uploads_before, 'monolithic: no session left');
$t->snapshot_is($before, 'monolithic: nothing new under blobs or links',
    ignore_uploads => 1);
is(free_kib(), $free_before, 'monolithic: space given back');

###########################################################################
# the disk full to the last page

fill(0);
is(free_kib(), 0, 'disk full');

$r = $t->post('/v2/fd/blobs/uploads/');
is_507($r, 'new session on a full disk');
is_deeply(uploads('fd'), $uploads_before, 'full disk: no session folder');

$r = $t->patch($loc, body => 'x' x 10_000);
is_507($r, 'patch on a full disk');
is(range_of($loc), range_for(length $content), 'full disk: session size kept');

# one page more each time: the data fits before its state does, so one
# of the failures is the state's write after the copy

my @pstat;
my $chunk = 'B' x 10_000;

for my $k (0 .. 8) {
    fill($k);
    $r = $t->patch($loc, body => $chunk);
    push @pstat, $r->{status};
    $loc = hdr($r, 'location') || $loc if $r->{status} == 202;
    if ($r->{status} == 202) {
        $content .= $chunk;
        last;
    }
    is_507($r, "patch with $k pages free");
    is(range_of($loc), range_for(length $content),
        "patch with $k pages free: session size kept");
    is(-s $session_data, length $content,
        "patch with $k pages free: session data cut back");
}
is($pstat[-1], 202, 'the patch passes once there is room')
    or diag("statuses @pstat");
cmp_ok(scalar(grep { $_ == 507 } @pstat), '>=', 3,
    'several failed patches before it') or diag("statuses @pstat");
ok(scalar($t->log_lines(qr/heph-state.*No space left on device/)),
    'one patch failed writing the session state after its data');
is(range_of($loc), range_for(length $content), 'range after the patch');

# manifest puts: with k pages free the k-th file of the put fails (blob,
# revision link, tag index link, tag link)

my %tried;

for my $k (0 .. 6) {
    my $m = manifest("full $k");
    my $d = sha256_digest($m);
    my $tag = "full$k";
    fill($k);
    $r = $t->put_manifest('fd', $tag, $m, $OCI);
    $tried{$k} = $r->{status};
    last if $r->{status} == 201;

    is_507($r, "manifest put with $k pages free");
    ok(!-e $t->tag_link('fd', $tag), "put with $k pages free: no tag link");
    oci_error_is($t->get("/v2/fd/manifests/$tag"), 404, 'MANIFEST_UNKNOWN',
        "put with $k pages free: tag unknown");
    my $tags = json_of($t->get('/v2/fd/tags/list'))->{tags} || [];
    ok(!grep({ $_ eq $tag } @$tags), "put with $k pages free: tag not listed");

    # the put may have stored the manifest whole under its digest

    if (-e $t->revision_link('fd', $d)) {
        $r = $t->get("/v2/fd/manifests/$d");
        ok($r->{status} == 200 && $r->{content} eq $m,
            "put with $k pages free: revision whole");
    } else {
        oci_error_is($t->get("/v2/fd/manifests/$d"), 404, 'MANIFEST_UNKNOWN',
            "put with $k pages free: digest unknown");
    }
}
my @k = sort { $a <=> $b } keys %tried;
is($tried{ $k[-1] }, 201, 'the manifest put passes once there is room');
cmp_ok(scalar(grep { $tried{$_} == 507 } @k), '>=', 4,
    'it failed at each of its four files first')
    or diag(join ' ', map { "$_:$tried{$_}" } @k);

# re-pointing a tag on a full disk keeps the old manifest

my $m_new = manifest('new');
my $retag_ok;

for my $k (0 .. 6) {
    fill($k);
    $r = $t->put_manifest('fd', 'v1', $m_new, $OCI);
    if ($r->{status} == 201) {
        $retag_ok = $k;
        last;
    }
    is_507($r, "re-tag with $k pages free");
    $r = $t->get('/v2/fd/manifests/v1');
    ok($r->{status} == 200 && $r->{content} eq $m_old,
        "re-tag with $k pages free: v1 still the old manifest");
}
ok(defined $retag_ok && $retag_ok > 0, 're-tag passes once there is room');
is($t->get('/v2/fd/manifests/v1')->{content}, $m_new, 'v1 re-pointed');

# a commit on a full disk: the blob is not linked in the repository

my $other = "other blob\n" x 1000;
my $other_d = sha256_digest($other);
unfill();
(undef, my $oloc) = $t->upload_start('fd');
$r = $t->patch($oloc, body => $other);
is($r->{status}, 202, 'other session patched');
$oloc = hdr($r, 'location') || $oloc;
fill(0);
$r = $t->put(add_query($oloc, "digest=$other_d"));
is_507($r, 'commit on a full disk');
ok(!-e $t->layer_link('fd', $other_d), 'failed commit: no layer link');
oci_error_is($t->get("/v2/fd/blobs/$other_d"), 404, 'BLOB_UNKNOWN',
    'failed commit: blob not served');
oci_error_is($t->head("/v2/fd/blobs/$other_d"), 404, 'BLOB_UNKNOWN',
    'failed commit: blob head 404');

###########################################################################
# the tree after the failures

my @bad = $t->store_problems;
ok(!@bad, 'full disk: every file a whole object or a session file')
    or diag(join "\n", @bad);

# space again: the same session goes on

unfill();
$r = $t->patch($loc, body => 'tail');
$content .= 'tail';
is($r->{status}, 202, 'patch after freeing space');
is(hdr($r, 'range'), range_for(length $content), 'range after freeing space');
$loc = hdr($r, 'location') || $loc;

my $digest = sha256_digest($content);
$r = $t->put(add_query($loc, "digest=$digest"));
is($r->{status}, 201, 'commit after freeing space');
$r = $t->get("/v2/fd/blobs/$digest");
is($r->{status}, 200, 'blob get');
ok($r->{content} eq $content, 'blob get returns the session\'s bytes')
    or diag('got ' . length($r->{content}) . ' bytes, sha256 '
        . sha256_hex($r->{content}));
ok(!-e $t->upload_dir('fd', $uuid), 'session folder gone after commit');

# the blob whose commit failed can be pushed again

$t->push_blob('fd', $other, 'push again the blob whose commit failed');
is($t->get("/v2/fd/blobs/$other_d")->{content}, $other,
    'that blob served now');

# the tags listed are exactly those that were answered 201

my $tags = json_of($t->get('/v2/fd/tags/list'))->{tags} || [];
is_deeply($tags, [ 'full' . $k[-1], 'v1' ], 'tags listed');

@bad = $t->store_problems;
ok(!@bad, 'at the end: every file a whole object or a session file')
    or diag(join "\n", @bad);

$t->stop();

done_testing();
