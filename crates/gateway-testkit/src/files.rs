//! Fixture files the tests write: gzip, and zip archives written by hand (entries stored or
//! deflated), so tests control exactly what an archive holds.

use std::io::Write;

pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A zip archive of the given entries (deflate, or stored), written by hand.
pub fn zip(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let body = if deflate {
            let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        } else {
            data.to_vec()
        };
        let method: u16 = if deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let head = |sig: u32, v: &mut Vec<u8>, central: bool| {
            v.extend(sig.to_le_bytes());
            if central {
                v.extend(20u16.to_le_bytes());
            }
            v.extend(20u16.to_le_bytes());
            v.extend(0u16.to_le_bytes());
            v.extend(method.to_le_bytes());
            v.extend(0u32.to_le_bytes());
            v.extend(crc.sum().to_le_bytes());
            v.extend((body.len() as u32).to_le_bytes());
            v.extend((data.len() as u32).to_le_bytes());
            v.extend((name.len() as u16).to_le_bytes());
            v.extend(0u16.to_le_bytes());
            if central {
                v.extend([0u8; 6]); // comment length, disk, internal attributes
                v.extend(0u32.to_le_bytes());
                v.extend(offset.to_le_bytes());
            }
            v.extend(name.as_bytes());
        };
        head(0x0403_4b50, &mut out, false);
        out.extend(&body);
        head(0x0201_4b50, &mut central, true);
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A Thrift compact-protocol struct writer, for hand-made Parquet footers and page headers.
#[derive(Default)]
struct Compact {
    b: Vec<u8>,
    last: i16,
}

fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn zigzag(n: i64) -> Vec<u8> {
    varint(((n << 1) ^ (n >> 63)) as u64)
}

impl Compact {
    fn field(&mut self, id: i16, ty: u8) -> &mut Self {
        let d = id - self.last;
        if (1..=15).contains(&d) {
            self.b.push(((d as u8) << 4) | ty);
        } else {
            self.b.push(ty);
            self.b.extend(zigzag(i64::from(id)));
        }
        self.last = id;
        self
    }
    fn i32(&mut self, id: i16, v: i32) -> &mut Self {
        self.field(id, 5);
        self.b.extend(zigzag(i64::from(v)));
        self
    }
    fn i64(&mut self, id: i16, v: i64) -> &mut Self {
        self.field(id, 6);
        self.b.extend(zigzag(v));
        self
    }
    fn string(&mut self, id: i16, s: &str) -> &mut Self {
        self.field(id, 8);
        self.b.extend(varint(s.len() as u64));
        self.b.extend(s.as_bytes());
        self
    }
    fn structure(&mut self, id: i16, inner: Vec<u8>) -> &mut Self {
        self.field(id, 12);
        self.b.extend(inner);
        self
    }
    fn list(&mut self, id: i16, elem: u8, items: &[Vec<u8>]) -> &mut Self {
        self.field(id, 9);
        self.b.push(((items.len() as u8) << 4) | elem);
        for i in items {
            self.b.extend(i);
        }
        self
    }
    fn raw(&mut self, id: i16, ty: u8, data: &[u8]) -> &mut Self {
        self.field(id, ty);
        self.b.extend(data);
        self
    }
    fn end(&mut self) -> Vec<u8> {
        let mut b = std::mem::take(&mut self.b);
        b.push(0);
        b
    }
}

/// The security review's 119-byte Parquet file (N2): one INT32 column, SNAPPY, one data page
/// whose header declares 2 GiB uncompressed and then carries one field the format does not
/// define, of compact type 13 (UUID). The parquet crate skips that field and allocates the
/// declared size; a page walk that gives up on it lets the page through.
pub fn parquet_hidden_page_bomb() -> Vec<u8> {
    let payload = b"\x05\x00garbage!";
    let dph = Compact::default().i32(1, 1).i32(2, 0).i32(3, 3).i32(4, 3).end();
    let hdr = Compact::default()
        .i32(1, 0)
        .i32(2, i32::MAX)
        .i32(3, payload.len() as i32)
        .structure(5, dph)
        .raw(9, 13, &[0u8; 16])
        .end();
    let n = (hdr.len() + payload.len()) as i64;
    let cmd = Compact::default()
        .i32(1, 1)
        .list(2, 5, &[zigzag(0)])
        .list(3, 8, &[[varint(1), b"a".to_vec()].concat()])
        .i32(4, 1)
        .i64(5, 1)
        .i64(6, n)
        .i64(7, n)
        .i64(9, 4)
        .end();
    let chunk = Compact::default().i64(2, 4).structure(3, cmd).end();
    let rg = Compact::default().list(1, 12, &[chunk]).i64(2, n).i64(3, 1).end();
    let root = Compact::default().string(4, "schema").i32(5, 1).end();
    let leaf = Compact::default().i32(1, 1).i32(3, 0).string(4, "a").end();
    let fmd = Compact::default().i32(1, 1).list(2, 12, &[root, leaf]).i64(3, 1).list(4, 12, &[rg]).end();
    let mut file = b"PAR1".to_vec();
    file.extend(&hdr);
    file.extend(payload);
    file.extend(&fmd);
    file.extend((fmd.len() as u32).to_le_bytes());
    file.extend(b"PAR1");
    file
}
