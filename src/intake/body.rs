//! How a delivery's body is kept in `deliveries.body`, as named by `deliveries.body_encoding`.
//!
//! On SQLite a body is stored compressed with LZ4 (`lz4`) when that makes it at least an
//! eighth smaller, else as it came (`identity`). A delivery is the largest row the bridge
//! writes, and every byte of it is written twice (the write-ahead log, then the database
//! file at a checkpoint); WooCommerce's order bodies come out at about half their size.
//! PostgreSQL compresses large values itself (with lz4 where the server has it, see
//! [`crate::store::LZ4_WHERE_OFFERED`]), so its bodies are always stored as they came.
//!
//! Every reader gets the body back as it came (see [`decode`]).

use crate::store::{Store, StoreError};

/// `deliveries.body_encoding` of a body stored as it came.
pub const IDENTITY: &str = "identity";
/// `deliveries.body_encoding` of a body stored as an LZ4 block after its length (4 bytes,
/// little-endian).
pub const LZ4: &str = "lz4";

/// Bodies shorter than this are stored as they came: a ping, or a deleted order's id.
const MIN_LEN: usize = 256;

/// How a delivery's body is to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packed {
    /// As it came.
    AsItCame,
    /// These bytes: the body compressed with LZ4.
    Lz4(Vec<u8>),
}

impl Packed {
    /// How `store` keeps `body`: compressed on SQLite where that pays, else as it came.
    pub fn for_store(store: &Store, body: &[u8]) -> Packed {
        match store {
            Store::Sqlite(..) => Packed::compressed(body),
            Store::Postgres(_) => Packed::AsItCame,
        }
    }

    /// `body` compressed with LZ4 if that saves at least an eighth of it, else as it came.
    pub fn compressed(body: &[u8]) -> Packed {
        if body.len() >= MIN_LEN {
            let packed = lz4_flex::block::compress_prepend_size(body);
            if packed.len() <= body.len() - body.len() / 8 {
                return Packed::Lz4(packed);
            }
        }
        Packed::AsItCame
    }

    /// The name stored in `deliveries.body_encoding`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Packed::AsItCame => IDENTITY,
            Packed::Lz4(_) => LZ4,
        }
    }

    /// The bytes stored in `deliveries.body` for `body`.
    pub fn bytes<'a>(&'a self, body: &'a [u8]) -> &'a [u8] {
        match self {
            Packed::AsItCame => body,
            Packed::Lz4(packed) => packed,
        }
    }
}

/// The body as it came, from the bytes stored under `encoding`.
pub fn decode(encoding: &str, stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    match encoding {
        IDENTITY => Ok(stored),
        LZ4 => {
            let damaged = |why: &str| {
                StoreError::Internal(format!("a stored body does not decompress (lz4): {why}"))
            };
            let (declared, block) =
                lz4_flex::block::uncompressed_size(&stored).map_err(|e| damaged(&e.to_string()))?;
            // LZ4 expands at most about 255 times; a length beyond that is damage, and is not
            // allocated.
            if declared > stored.len().saturating_mul(255) {
                return Err(damaged("its length does not match its size"));
            }
            lz4_flex::block::decompress(block, declared).map_err(|e| damaged(&e.to_string()))
        }
        other => Err(StoreError::Internal(format!(
            "a stored body has an unknown encoding {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real order.created delivery's body, captured from WooCommerce 11.0.1.
    fn captured_order() -> Vec<u8> {
        let capture: serde_json::Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/woocommerce/wc-11.0.1_wp-7.1/26-G1-order.created.json"
        ))
        .expect("capture");
        capture["body"].as_str().expect("body").as_bytes().to_vec()
    }

    #[test]
    fn order_bodies_are_compressed_and_come_back_as_they_came() {
        let body = captured_order();
        let packed = Packed::compressed(&body);
        assert_eq!(packed.encoding(), LZ4);
        let stored = packed.bytes(&body);
        assert!(
            stored.len() < body.len() * 3 / 4,
            "{} of {} bytes",
            stored.len(),
            body.len()
        );
        let back = decode(packed.encoding(), stored.to_vec()).expect("decodes");
        assert_eq!(back, body);
    }

    #[test]
    fn short_or_incompressible_bodies_are_kept_as_they_came() {
        let ping = b"webhook_id=12";
        assert_eq!(Packed::compressed(ping), Packed::AsItCame);
        // Bytes with no repeats: LZ4 would make them longer.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                // xorshift64
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()[3]
            })
            .collect();
        let packed = Packed::compressed(&noise);
        assert_eq!(packed.encoding(), IDENTITY);
        assert_eq!(packed.bytes(&noise), noise.as_slice());
        assert_eq!(decode(IDENTITY, noise.clone()).expect("identity"), noise);
    }

    #[test]
    fn damaged_or_unknown_bodies_are_errors_not_panics() {
        let body = captured_order();
        let mut packed = Packed::compressed(&body).bytes(&body).to_vec();
        packed.truncate(packed.len() / 2);
        assert!(decode(LZ4, packed).is_err());
        // A length far beyond what follows.
        assert!(decode(LZ4, vec![0xff, 0xff, 0xff, 0x7f, 0x10]).is_err());
        let e = decode("zstd", vec![1, 2, 3]).expect_err("unknown");
        assert!(e.to_string().contains("zstd"), "{e}");
    }
}
