//! Random input for every decoder. Decoding is the one place client bytes meet the server:
//! mutate valid packets at random (and feed pure noise) through the Engine.IO and Socket.IO
//! decoders, which must answer with a value or an error, never a panic. Deterministic seed, so
//! a failure reproduces.

use bytes::Bytes;
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::{engineio::packet as eio, packet as sio};

const SEEDS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "2probe",
    "3probe",
    "5",
    "6",
    "4hello",
    "40",
    "40{\"token\":\"x\"}",
    "40/custom,{}",
    "41",
    "42[\"message:send\",{\"chatId\":\"a\",\"text\":\"hi\"}]",
    "421[\"chat:join\",{\"chatId\":\"0123456789abcdef01234567\",\"sinceSeq\":3}]",
    "431[{\"ok\":1}]",
    "451-[\"bin\",{\"_placeholder\":true,\"num\":0}]",
    "461-/nsp,7[{\"_placeholder\":true,\"num\":0}]",
    "44{\"message\":\"x\"}",
    "42/custom,9[\"e\",1,2,{\"a\":[]}]",
];

fn mutate(rng: &mut StdRng, seed: &str) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..6) {
        let len = bytes.len();
        match rng.gen_range(0..5) {
            0 if len > 0 => bytes[rng.gen_range(0..len)] = rng.gen(),
            1 => {
                const ALPHABET: &[u8] = b"[]{}\",:-/0123456789\x1eb";
                bytes.insert(rng.gen_range(0..=len), ALPHABET[rng.gen_range(0..ALPHABET.len())]);
            }
            2 if len > 0 => {
                bytes.remove(rng.gen_range(0..len));
            }
            3 if len > 0 => bytes.truncate(rng.gen_range(0..len)),
            _ => bytes.extend_from_slice(b"\x1e42[\"x\"]"),
        }
    }
    bytes
}

#[test]
fn no_decoder_panics_on_mutated_or_random_input() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for round in 0..200_000 {
        let bytes = if round % 10 == 0 {
            (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect()
        } else {
            let seed = SEEDS[rng.gen_range(0..SEEDS.len())];
            mutate(&mut rng, seed)
        };
        let _ = eio::decode_payload(&bytes);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let _ = eio::decode_text(&text);
        let mut decoder = sio::Decoder::new(3);
        let body = text.strip_prefix('4').unwrap_or(&text).to_owned();
        if let Ok(Some(_)) | Err(_) = decoder.text(body) {
            continue;
        }
        // Waiting for attachments: feed some binary parts, valid or not.
        for _ in 0..rng.gen_range(0..5) {
            let part: Vec<u8> = (0..rng.gen_range(0..8)).map(|_| rng.gen()).collect();
            if decoder.binary(Bytes::from(part)).is_err() {
                break;
            }
        }
    }
}
