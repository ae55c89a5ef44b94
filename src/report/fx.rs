//! A fast non-cryptographic hasher (the Fx hash of rustc and Firefox) for the site's maps:
//! keys are entity refs and check ids from our own database, never attacker-chosen at a
//! scale where collisions matter, and SipHash showed up in the render profile.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Fx {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fx>>;
pub type HashSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fx>>;

#[cfg(test)]
mod tests {
    #[test]
    fn maps_work_with_string_keys() {
        let mut m: super::HashMap<String, usize> = super::HashMap::default();
        for i in 0..1000 {
            m.insert(format!("component:default/c-{i}"), i);
        }
        assert_eq!(m.get("component:default/c-517"), Some(&517));
        assert_eq!(m.len(), 1000);
    }
}
