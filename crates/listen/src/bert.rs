//! BERT encoder forward pass for sentence embeddings, on candle tensors, written for throughput
//! on small CPUs.
//!
//! Why not `candle_transformers::models::bert::BertModel`: it runs a padded `[batch, len, hidden]`
//! block through every layer, so each linear layer is a batched matmul of many small matrices
//! and padding tokens cost as much as real ones. Here the tokens of all sentences of a batch are
//! packed into one `[tokens, hidden]` matrix: every linear layer is one large matmul (weights
//! pre-transposed, query/key/value fused into one), no padding is computed, and attention runs per
//! sentence on its own tokens (so no attention mask is needed). The arithmetic is BERT's
//! (Devlin et al., 2019; the same weights and operations as Hugging Face's `BertModel`): the
//! embedding test against sentence-transformers checks it.

use candle_core::{DType, Device, Module as _, Result, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

/// The fields of a BERT `config.json` that the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "gelu")]
    pub hidden_act: String,
}

fn type_vocab() -> usize {
    2
}
fn eps() -> f64 {
    1e-12
}
fn gelu() -> String {
    "gelu".into()
}

struct Linear {
    /// `[in, out]`, contiguous: `x @ w` is one plain matmul.
    w: Tensor,
    b: Tensor,
}

impl Linear {
    fn load(vb: &VarBuilder, name: &str, out: usize, inp: usize) -> Result<Linear> {
        let w = vb.get((out, inp), &format!("{name}.weight"))?;
        let b = vb.get(out, &format!("{name}.bias"))?;
        Ok(Linear {
            w: w.t()?.contiguous()?,
            b,
        })
    }

    /// Query, key and value as one layer: `[in, 3·out]`.
    fn fused(parts: [Linear; 3]) -> Result<Linear> {
        let [q, k, v] = parts;
        Ok(Linear {
            w: Tensor::cat(&[&q.w, &k.w, &v.w], 1)?.contiguous()?,
            b: Tensor::cat(&[&q.b, &k.b, &v.b], 0)?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.w)?.broadcast_add(&self.b)
    }
}

struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, name: &str, size: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            w: vb.get(size, &format!("{name}.weight"))?,
            b: vb.get(size, &format!("{name}.bias"))?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.w, &self.b, self.eps)
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    inter: Linear,
    out: Linear,
    out_norm: LayerNorm,
}

/// A loaded encoder.
pub(crate) struct Bert {
    word: candle_nn::Embedding,
    position: Tensor,
    token_type0: Tensor,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    max_positions: usize,
    approx_gelu: bool,
}

impl Bert {
    pub(crate) fn load(vb: VarBuilder, c: &Config) -> Result<Bert> {
        // sentence-transformers checkpoints have no prefix; Hugging Face ones say `bert.`.
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let h = c.hidden_size;
        if c.num_attention_heads == 0 || h % c.num_attention_heads != 0 {
            candle_core::bail!("hidden_size {h} is not a multiple of num_attention_heads");
        }
        let e = vb.pp("embeddings");
        let word =
            candle_nn::Embedding::new(e.get((c.vocab_size, h), "word_embeddings.weight")?, h);
        let position = e.get((c.max_position_embeddings, h), "position_embeddings.weight")?;
        let token_type0 = e
            .get((c.type_vocab_size, h), "token_type_embeddings.weight")?
            .narrow(0, 0, 1)?;
        let emb_norm = LayerNorm::load(&e, "LayerNorm", h, c.layer_norm_eps)?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            layers.push(Layer {
                qkv: Linear::fused([
                    Linear::load(&a, "self.query", h, h)?,
                    Linear::load(&a, "self.key", h, h)?,
                    Linear::load(&a, "self.value", h, h)?,
                ])?,
                attn_out: Linear::load(&a, "output.dense", h, h)?,
                attn_norm: LayerNorm::load(&a, "output.LayerNorm", h, c.layer_norm_eps)?,
                inter: Linear::load(&l, "intermediate.dense", c.intermediate_size, h)?,
                out: Linear::load(&l, "output.dense", h, c.intermediate_size)?,
                out_norm: LayerNorm::load(&l, "output.LayerNorm", h, c.layer_norm_eps)?,
            });
        }
        let approx_gelu = match c.hidden_act.as_str() {
            "gelu" => false,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_approximate" => true,
            other => candle_core::bail!("unsupported hidden_act {other}"),
        };
        Ok(Bert {
            word,
            position,
            token_type0,
            emb_norm,
            layers,
            heads: c.num_attention_heads,
            head_dim: h / c.num_attention_heads,
            hidden: h,
            max_positions: c.max_position_embeddings,
            approx_gelu,
        })
    }

    /// Mean-pooled, L2-normalised sentence embeddings for token id sequences (each non-empty
    /// and at most `max_position_embeddings` long).
    pub(crate) fn embed(&self, seqs: &[&[u32]], device: &Device) -> Result<Vec<Vec<f32>>> {
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<u32> = Vec::new();
        let mut pos: Vec<u32> = Vec::new();
        for s in seqs {
            if s.is_empty() || s.len() > self.max_positions {
                candle_core::bail!("sequence of {} tokens", s.len());
            }
            ids.extend_from_slice(s);
            pos.extend(0..s.len() as u32);
        }
        let n = ids.len();
        let ids = Tensor::from_vec(ids, n, device)?;
        let pos = Tensor::from_vec(pos, n, device)?;
        let x = self
            .word
            .forward(&ids)?
            .add(&self.position.index_select(&pos, 0)?)?
            .broadcast_add(&self.token_type0)?;
        let mut x = self.emb_norm.forward(&x)?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?;
            let mut ctx = Vec::with_capacity(seqs.len());
            let mut offset = 0;
            for s in seqs {
                let len = s.len();
                let part = qkv.narrow(0, offset, len)?;
                offset += len;
                // [len, 3, heads, d] → q, k, v as [heads, len, d]
                let part = part.reshape((len, 3, self.heads, self.head_dim))?;
                let q = part
                    .narrow(1, 0, 1)?
                    .squeeze(1)?
                    .transpose(0, 1)?
                    .contiguous()?;
                let k = part
                    .narrow(1, 1, 1)?
                    .squeeze(1)?
                    .transpose(0, 1)?
                    .contiguous()?;
                let v = part
                    .narrow(1, 2, 1)?
                    .squeeze(1)?
                    .transpose(0, 1)?
                    .contiguous()?;
                let scores = (q.matmul(&k.t()?)? * scale)?;
                let probs = candle_nn::ops::softmax_last_dim(&scores)?;
                let c = probs.matmul(&v)?; // [heads, len, d]
                ctx.push(c.transpose(0, 1)?.reshape((len, self.hidden))?);
            }
            let ctx = Tensor::cat(&ctx, 0)?;
            let a = layer.attn_out.forward(&ctx)?;
            let x1 = layer.attn_norm.forward(&(a + &x)?)?;
            let inter = layer.inter.forward(&x1)?;
            let inter = if self.approx_gelu {
                inter.gelu()?
            } else {
                inter.gelu_erf()?
            };
            let o = layer.out.forward(&inter)?;
            x = layer.out_norm.forward(&(o + x1)?)?;
        }
        // Mean over each sentence's tokens, then L2 normalisation.
        let mut out = Vec::with_capacity(seqs.len());
        let mut offset = 0;
        for s in seqs {
            let m = x.narrow(0, offset, s.len())?.mean(0)?;
            offset += s.len();
            let norm = m.sqr()?.sum_all()?.sqrt()?.to_scalar::<f32>()?.max(1e-12);
            out.push(
                (m / f64::from(norm))?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?,
            );
        }
        Ok(out)
    }
}
