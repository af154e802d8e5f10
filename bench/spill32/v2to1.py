# v2to1.py IN.hts OUT.hts: rewrite a version-2 spill (32-byte slots) as version 1 (48-byte struct ht_rec,
# tid per record) so that main's heaptrail can ingest the same run: per chunk, its records in slot order
# (owner slots dropped, a wide pair joined, torn slots kept as empty records), then empty records.
import struct, sys
HS = 1 << 20
fi = open(sys.argv[1], 'rb')
h = bytearray(fi.read(HS))
ver, hsz, rsz, cr = struct.unpack_from('<IIII', h, 8)
maxc, = struct.unpack_from('<Q', h, 24)
nextc, = struct.unpack_from('<Q', h, 8 + 16 + 8 + 8 + 8 + 8 + 8)
assert ver == 2 and rsz == 32, (ver, rsz)
struct.pack_into('<II', h, 8, 1, HS); struct.pack_into('<I', h, 16, 48)
L = (1 << 48) - 1
out = [bytes(h)]
nch = min(nextc, maxc)
for c in range(nch):
    fi.seek(HS + c * cr * 32)
    sl = list(struct.iter_unpack('<4Q', fi.read(cr * 32)))
    recs = []
    tid = 0
    for i, (w0, w1, w2, w3) in enumerate(sl):
        kb = w3 >> 56
        if kb == 0x7f: tid = w0; continue
        if kb == 0:
            if i + 1 < cr and (sl[i + 1][3] >> 56) & 0x80 and 1 <= (sl[i + 1][3] >> 56) & 0x7f <= 14: continue
            recs.append(b'\0' * 48); continue
        seq, fl, k = w3 & L, (w3 >> 48) & 0xff, kb & 0x7f
        if kb & 0x80: a, b, cc, d = w0, w1, sl[i - 1][0], sl[i - 1][1]
        else: a, b, cc, d = w0 & L, w1 & L, w2 & L, (w0 >> 48) | (w1 >> 48) << 16 | (w2 >> 48) << 32
        recs.append(struct.pack('<5QIHBB', seq, a, b, cc, d, tid, fl, 0, k))
    while recs and recs[-1] == b'\0' * 48: recs.pop()
    recs += [b'\0' * 48] * (cr - len(recs))
    out.append(b''.join(recs))
open(sys.argv[2], 'wb').write(b''.join(out))
