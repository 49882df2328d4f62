//! A reader of fatbin containers, for the tests: which entries (PTX or SASS,
//! which arch, which compression) nvcc and the fatbinary wrapper wrote.

use std::path::Path;

use super::CompositeError;

/// How one fatbin entry is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// Flag 0x2000; every CUDA driver since 11.x reads it.
    Lz4,
    /// Flag 0x8000; CUDA 12 drivers from 550.54.14 (and CUDA 13's) read it.
    Zstd,
}

/// One entry of a fatbin. Ex) `Elf` for sm_90, LZ4
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FatbinEntry {
    /// 1: PTX, 2: ELF (SASS).
    pub kind: u16,
    /// Ex) 90, 120
    pub arch: u32,
    pub compression: Compression,
}

impl FatbinEntry {
    pub fn is_ptx(&self) -> bool {
        self.kind == 1
    }
    pub fn is_sass(&self) -> bool {
        self.kind == 2
    }
}

/// The entries of every fatbin container (magic 0xBA55ED50) in `data`, e.g.
/// an object's `.nv_fatbin` section. Pure; stops at anything malformed.
pub fn fatbin_entries(data: &[u8]) -> Vec<FatbinEntry> {
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    let u64_at = |o: usize| {
        data.get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let mut out = Vec::new();
    let mut off = 0usize;
    while let (Some(magic), Some(hsz), Some(size)) = (u32_at(off), u16_at(off + 6), u64_at(off + 8))
    {
        if magic != 0xBA55_ED50 {
            // Containers are 8-byte aligned inside a section.
            off += 8;
            continue;
        }
        let end = off + hsz as usize + size as usize;
        let mut p = off + hsz as usize;
        while p < end {
            let (Some(kind), Some(esz), Some(asz), Some(arch), Some(flags)) = (
                u16_at(p),
                u32_at(p + 4),
                u64_at(p + 8),
                u32_at(p + 28),
                u64_at(p + 40),
            ) else {
                return out;
            };
            if esz == 0 {
                return out;
            }
            let compression = if flags & 0x8000 != 0 {
                Compression::Zstd
            } else if flags & 0x2000 != 0 {
                Compression::Lz4
            } else {
                Compression::None
            };
            out.push(FatbinEntry {
                kind,
                arch,
                compression,
            });
            p += esz as usize + asz as usize;
        }
        off = end.max(off + 8);
    }
    out
}

/// The fatbin entries of an ELF object or shared library (`.nv_fatbin`).
pub fn object_fatbin_entries(path: &Path) -> Result<Vec<FatbinEntry>, CompositeError> {
    use object::{Object, ObjectSection};
    let data = fs_err::read(path)?;
    let file = object::File::parse(&*data)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
    let Some(section) = file.section_by_name(".nv_fatbin") else {
        return Ok(Vec::new());
    };
    let bytes = section
        .data()
        .map_err(|e| std::io::Error::other(format!("{}: .nv_fatbin: {e}", path.display())))?;
    Ok(fatbin_entries(bytes))
}
