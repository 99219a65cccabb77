//! BERT encoder forward pass for sentence embeddings, on candle tensors, written for throughput
//! on small CPUs.
//!
//! Why not `candle_transformers::models::bert::BertModel`: it runs a padded `[batch, len, hidden]`
//! block through every layer, so each linear layer is a batched matmul of many small matrices
//! and padding tokens cost as much as real ones. Here the tokens of all sentences of a batch are
//! packed into one `[tokens, hidden]` matrix: every linear layer is one large matmul (weights
//! pre-transposed, query/key/value fused into one), no padding is computed, and attention runs per
//! sentence on its own tokens (so no attention mask is needed). Everything between the matmuls
//! (bias, attention, GELU, residual and layer norm) runs as fused kernels on plain slices
//! (`kernels.rs`), wrapped as candle custom ops. The arithmetic is BERT's
//! (Devlin et al., 2019; the same weights and operations as Hugging Face's `BertModel`): the
//! embedding test against sentence-transformers checks it.

use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, Device, Layout, Module as _, Result, Shape, Tensor,
};
use candle_nn::VarBuilder;
use serde::Deserialize;

use crate::kernels;
use crate::{amx, model::Arithmetic};

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
    w: Weights,
    /// Added by the fused kernel that follows the matmul.
    b: Vec<f32>,
}

/// A linear layer's weights in the arithmetic its products run in.
enum Weights {
    /// `[in, out]`, contiguous: `x @ w` is one plain candle matmul.
    F32(Tensor),
    /// Packed for the AMX tile kernel (bfloat16 products, f32 sums).
    Amx(amx::Weights),
}

impl Linear {
    fn load(vb: &VarBuilder, name: &str, out: usize, inp: usize) -> Result<Linear> {
        let w = vb.get((out, inp), &format!("{name}.weight"))?;
        let b = vb.get(out, &format!("{name}.bias"))?;
        Ok(Linear {
            w: Weights::F32(w.t()?.contiguous()?),
            b: b.to_vec1::<f32>()?,
        })
    }

    /// Query, key and value as one layer: `[in, 3·out]`, in `arithmetic`.
    fn fused(parts: [Linear; 3], arithmetic: Arithmetic) -> Result<Linear> {
        let mut ws = Vec::with_capacity(parts.len());
        let mut b = Vec::new();
        for p in parts {
            b.extend_from_slice(&p.b);
            ws.push(p.f32_weights()?);
        }
        Linear {
            w: Weights::F32(Tensor::cat(&ws, 1)?.contiguous()?),
            b,
        }
        .into_arithmetic(arithmetic)
    }

    fn f32_weights(self) -> Result<Tensor> {
        match self.w {
            Weights::F32(w) => Ok(w),
            Weights::Amx(_) => candle_core::bail!("weights already packed for AMX"),
        }
    }

    /// The layer with its products in `arithmetic` (weights loaded in f32 are packed for it).
    fn into_arithmetic(self, arithmetic: Arithmetic) -> Result<Linear> {
        match (arithmetic, self.w) {
            (Arithmetic::Bf16Amx, Weights::F32(w)) => {
                let (inp, out) = w.dims2()?;
                let packed = amx::Weights::new(&w.flatten_all()?.to_vec1::<f32>()?, inp, out);
                Ok(Linear {
                    w: Weights::Amx(packed),
                    b: self.b,
                })
            }
            (_, w) => Ok(Linear { w, b: self.b }),
        }
    }

    /// `x @ w`, without the bias.
    fn matmul(&self, x: &Tensor) -> Result<Tensor> {
        match &self.w {
            Weights::F32(w) => x.matmul(w),
            Weights::Amx(w) => x.apply_op1_no_bwd(&AmxMatmul(w)),
        }
    }
}

/// `x @ w` on the AMX tile kernel, as a candle op.
struct AmxMatmul<'a>(&'a amx::Weights);

impl CustomOp1 for AmxMatmul<'_> {
    fn name(&self) -> &'static str {
        "bordin-amx-matmul"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(s, l)?;
        let (k, n) = (self.0.k(), self.0.n());
        if x.len() % k != 0 {
            candle_core::bail!("matmul: shape {:?} for {k} inputs", l.shape());
        }
        let out = amx::matmul(x, self.0);
        Ok((CpuStorage::F32(out), Shape::from((x.len() / k, n))))
    }
}

struct LayerNorm {
    w: Vec<f32>,
    b: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, name: &str, size: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            w: vb.get(size, &format!("{name}.weight"))?.to_vec1::<f32>()?,
            b: vb.get(size, &format!("{name}.bias"))?.to_vec1::<f32>()?,
            eps: eps as f32,
        })
    }

    fn norm(&self) -> kernels::Norm<'_> {
        kernels::Norm {
            weight: &self.w,
            bias: &self.b,
            eps: self.eps,
        }
    }
}

/// The f32 data of a contiguous tensor's storage.
fn data<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s.as_slice::<f32>()?[a..b]),
        None => candle_core::bail!("expected a contiguous tensor"),
    }
}

/// `LayerNorm(x + bias + residual)` as a candle op (`kernels::add_norm`).
struct AddNorm<'a> {
    bias: &'a [f32],
    norm: &'a LayerNorm,
}

impl CustomOp2 for AddNorm<'_> {
    fn name(&self) -> &'static str {
        "bordin-add-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, r) = (data(s1, l1)?, data(s2, l2)?);
        if x.len() != r.len() || x.len() % self.bias.len() != 0 {
            candle_core::bail!("add_norm: shapes {:?} and {:?}", l1.shape(), l2.shape());
        }
        let out = kernels::add_norm(x, self.bias, r, &self.norm.norm());
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `gelu(x + bias)` as a candle op (`kernels::bias_gelu`).
struct BiasGelu<'a> {
    bias: &'a [f32],
    exact: bool,
}

impl CustomOp1 for BiasGelu<'_> {
    fn name(&self) -> &'static str {
        "bordin-bias-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(s, l)?;
        if x.len() % self.bias.len() != 0 {
            candle_core::bail!("bias_gelu: shape {:?}", l.shape());
        }
        let out = kernels::bias_gelu(x, self.bias, self.exact);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// Self-attention of packed sentences as a candle op (`kernels::attention`): `[tokens,
/// 3·hidden]` query/key/value without bias in, `[tokens, hidden]` context out.
struct Attention<'a> {
    bias: &'a [f32],
    lens: &'a [usize],
    heads: usize,
    head_dim: usize,
}

impl CustomOp1 for Attention<'_> {
    fn name(&self) -> &'static str {
        "bordin-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = data(s, l)?;
        let hidden = self.heads * self.head_dim;
        let tokens: usize = self.lens.iter().sum();
        if x.len() != tokens * 3 * hidden {
            candle_core::bail!("attention: shape {:?} for {tokens} tokens", l.shape());
        }
        let out = kernels::attention(x, self.bias, self.lens, self.heads, self.head_dim);
        Ok((CpuStorage::F32(out), Shape::from((tokens, hidden))))
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
    /// Token type 0's embedding (every token here is type 0), added as a bias.
    token_type0: Vec<f32>,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    max_positions: usize,
    approx_gelu: bool,
}

impl Bert {
    pub(crate) fn load(vb: VarBuilder, c: &Config, arithmetic: Arithmetic) -> Result<Bert> {
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
            .narrow(0, 0, 1)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        let emb_norm = LayerNorm::load(&e, "LayerNorm", h, c.layer_norm_eps)?;
        let mut layers = Vec::with_capacity(c.num_hidden_layers);
        for i in 0..c.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            layers.push(Layer {
                qkv: Linear::fused(
                    [
                        Linear::load(&a, "self.query", h, h)?,
                        Linear::load(&a, "self.key", h, h)?,
                        Linear::load(&a, "self.value", h, h)?,
                    ],
                    arithmetic,
                )?,
                attn_out: Linear::load(&a, "output.dense", h, h)?.into_arithmetic(arithmetic)?,
                attn_norm: LayerNorm::load(&a, "output.LayerNorm", h, c.layer_norm_eps)?,
                inter: Linear::load(&l, "intermediate.dense", c.intermediate_size, h)?
                    .into_arithmetic(arithmetic)?,
                out: Linear::load(&l, "output.dense", h, c.intermediate_size)?
                    .into_arithmetic(arithmetic)?,
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
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let ids = Tensor::from_vec(ids, n, device)?;
        let pos = Tensor::from_vec(pos, n, device)?;
        let word = self.word.forward(&ids)?;
        let position = self.position.index_select(&pos, 0)?;
        let mut x = word.apply_op2_no_bwd(
            &position,
            &AddNorm {
                bias: &self.token_type0,
                norm: &self.emb_norm,
            },
        )?;
        for layer in &self.layers {
            let ctx = layer.qkv.matmul(&x)?.apply_op1_no_bwd(&Attention {
                bias: &layer.qkv.b,
                lens: &lens,
                heads: self.heads,
                head_dim: self.head_dim,
            })?;
            let x1 = layer.attn_out.matmul(&ctx)?.apply_op2_no_bwd(
                &x,
                &AddNorm {
                    bias: &layer.attn_out.b,
                    norm: &layer.attn_norm,
                },
            )?;
            let inter = layer.inter.matmul(&x1)?.apply_op1_no_bwd(&BiasGelu {
                bias: &layer.inter.b,
                exact: !self.approx_gelu,
            })?;
            x = layer.out.matmul(&inter)?.apply_op2_no_bwd(
                &x1,
                &AddNorm {
                    bias: &layer.out.b,
                    norm: &layer.out_norm,
                },
            )?;
        }
        // Mean over each sentence's tokens, then L2 normalisation.
        let x = x.flatten_all()?.to_vec1::<f32>()?;
        let mut out = Vec::with_capacity(seqs.len());
        let mut rows = x.chunks_exact(self.hidden);
        for &len in &lens {
            let mut m = vec![0.0f32; self.hidden];
            for row in rows.by_ref().take(len) {
                for (m, v) in m.iter_mut().zip(row) {
                    *m += v;
                }
            }
            let norm = m
                .iter()
                .map(|v| (v / len as f32).powi(2))
                .sum::<f32>()
                .sqrt()
                .max(1e-12);
            out.push(m.iter().map(|v| v / len as f32 / norm).collect());
        }
        Ok(out)
    }
}
