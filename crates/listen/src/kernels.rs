//! The non-matmul parts of the BERT layer, fused and run on plain slices for `bert.rs`.
//!
//! Why by hand: candle runs each of bias add, GELU, residual add and layer norm as its own pass
//! over a freshly allocated tensor, GELU through a scalar `erf` from the `libm` crate, and
//! attention as a dozen small tensor ops per sentence and layer. Profiling the release build
//! (`perf record`, bench/listen_bench.sh inputs, one thread) put those at about 45% of the time
//! beside 52% in the matrix products. Here each is one pass over the data, split over rayon's
//! threads (the same pool candle's matmul uses), and GELU's `erf` is a branch-free formula the
//! compiler vectorises. Each task runs under `pulp::Arch::dispatch`, which detects AVX2/FMA or
//! AVX-512 at run time and compiles the loops inside for them (safe code, and the binary still
//! runs on CPUs without them); reductions keep 8 partial sums so that they vectorise too. The arithmetic is unchanged: the embedding test against
//! sentence-transformers (cosine ≥ 0.999) and the unit tests below check it.

use rayon::prelude::*;

/// Rows handed to one rayon task at a time (a row is one token).
const ROWS_PER_TASK: usize = 16;

/// Sum of `a[i]·b[i]` with 8 partial sums (one SIMD register's worth), so that it vectorises.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Sum of `a[i]` with 8 partial sums.
#[inline(always)]
fn sum(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let c = a.chunks_exact(8);
    let tail: f32 = c.remainder().iter().sum();
    for x in c {
        for k in 0..8 {
            acc[k] += x[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The largest of `a` (−∞ when empty), with 8 partial maxima so that it vectorises.
#[inline(always)]
fn max(a: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; 8];
    let c = a.chunks_exact(8);
    let tail = c
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, x| m.max(*x));
    for x in c {
        for k in 0..8 {
            acc[k] = if x[k] > acc[k] { x[k] } else { acc[k] };
        }
    }
    acc.iter().fold(tail, |m, x| m.max(*x))
}

/// `e^x` for `x ≤ 0` (clamped at −87, where it underflows to ~1.6e-38), branch-free so that
/// loops over it vectorise: `2^n · p(r)` with `x = n·ln2 + r`, `|r| ≤ ln2/2`, and `p` the
/// degree-6 Taylor polynomial of `e^r` (relative error below 2e-7 on that interval).
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    let x = x.clamp(-87.0, 0.0);
    // Round to nearest by adding and removing 1.5·2^23 (exact for |t| < 2^22; here |t| ≤ 126):
    // plain arithmetic, where `f32::round` is a libm call that stops vectorisation.
    const MAGIC: f32 = 12_582_912.0;
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    // ln 2 split in two parts so that n·ln2 is exact in the first (Cody–Waite reduction).
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n is in [-126, 0]: 2^n as the bit pattern of a normal f32. n is read from `t`'s low bits
    // (its significand holds 1.5·2^23 + n, one unit per step) rather than by `n as i32`, whose
    // saturating conversion the compiler does not vectorise.
    let bits = t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127) << 23;
    p * f32::from_bits(bits)
}

/// `erf(x)` by Abramowitz & Stegun (1964) formula 7.1.26, absolute error ≤ 1.5e-7 (below f32's
/// resolution near 1), odd-extended to negative `x`.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_72,
        1.421_413_8,
        -1.453_152_1,
        1.061_405_4,
    ];
    let ax = x.abs();
    let t = 1.0 / (1.0 + P * ax);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    let y = 1.0 - poly * exp_neg(-ax * ax);
    y.copysign(x)
}

/// GELU as BERT's `hidden_act = "gelu"` defines it: `x · ½(1 + erf(x/√2))`.
#[inline(always)]
fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU's tanh approximation (`gelu_new`): `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
#[inline(always)]
fn gelu_tanh(x: f32) -> f32 {
    let u = 0.797_884_6 * (x + 0.044_715 * x * x * x);
    // tanh(u) = sign(u)·(1 − e^{−2|u|}) / (1 + e^{−2|u|})
    let e = exp_neg(-2.0 * u.abs());
    let th = ((1.0 - e) / (1.0 + e)).copysign(u);
    0.5 * x * (1.0 + th)
}

/// `out = gelu(x + bias)` row by row; `x` is `[rows, bias.len()]`.
pub(crate) fn bias_gelu(x: &[f32], bias: &[f32], exact: bool) -> Vec<f32> {
    let cols = bias.len();
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(cols * ROWS_PER_TASK)
        .zip(x.par_chunks(cols * ROWS_PER_TASK))
        .for_each(|(out, x)| {
            pulp::Arch::new().dispatch(GeluTask {
                out,
                x,
                bias,
                exact,
            });
        });
    out
}

/// One task of [`bias_gelu`]. A struct rather than a closure so that `with_simd` can be
/// `inline(always)`: its loops are then compiled inside pulp's AVX2/AVX-512 function.
struct GeluTask<'a> {
    out: &'a mut [f32],
    x: &'a [f32],
    bias: &'a [f32],
    exact: bool,
}

impl pulp::WithSimd for GeluTask<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let cols = self.bias.len();
        for (orow, xrow) in self
            .out
            .chunks_exact_mut(cols)
            .zip(self.x.chunks_exact(cols))
        {
            if self.exact {
                for ((o, x), b) in orow.iter_mut().zip(xrow).zip(self.bias) {
                    *o = gelu_erf(x + b);
                }
            } else {
                for ((o, x), b) in orow.iter_mut().zip(xrow).zip(self.bias) {
                    *o = gelu_tanh(x + b);
                }
            }
        }
    }
}

/// Layer norm weights.
pub(crate) struct Norm<'a> {
    pub(crate) weight: &'a [f32],
    pub(crate) bias: &'a [f32],
    pub(crate) eps: f32,
}

/// `out = LayerNorm(x + bias + residual)` row by row (BERT's "add & norm" after a linear
/// layer whose bias was left out of its matmul), in f32 as candle's `layer_norm`.
pub(crate) fn add_norm(x: &[f32], bias: &[f32], residual: &[f32], norm: &Norm<'_>) -> Vec<f32> {
    let cols = bias.len();
    let mut out = vec![0.0f32; x.len()];
    out.par_chunks_mut(cols * ROWS_PER_TASK)
        .zip(x.par_chunks(cols * ROWS_PER_TASK))
        .zip(residual.par_chunks(cols * ROWS_PER_TASK))
        .for_each(|((out, x), residual)| {
            pulp::Arch::new().dispatch(AddNormTask {
                out,
                x,
                residual,
                bias,
                norm,
            });
        });
    out
}

/// One task of [`add_norm`] (see [`GeluTask`] for why a struct).
struct AddNormTask<'a> {
    out: &'a mut [f32],
    x: &'a [f32],
    residual: &'a [f32],
    bias: &'a [f32],
    norm: &'a Norm<'a>,
}

impl pulp::WithSimd for AddNormTask<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let cols = self.bias.len();
        let norm = self.norm;
        for ((orow, xrow), rrow) in self
            .out
            .chunks_exact_mut(cols)
            .zip(self.x.chunks_exact(cols))
            .zip(self.residual.chunks_exact(cols))
        {
            for ((o, x), (b, r)) in orow.iter_mut().zip(xrow).zip(self.bias.iter().zip(rrow)) {
                *o = x + b + r;
            }
            let mean = sum(orow) / cols as f32;
            for o in orow.iter_mut() {
                *o -= mean;
            }
            let var = dot(orow, orow) / cols as f32;
            let inv = 1.0 / (var + norm.eps).sqrt();
            for ((o, w), b) in orow.iter_mut().zip(norm.weight).zip(norm.bias) {
                *o = *o * inv * w + b;
            }
        }
    }
}

/// Multi-head self-attention over packed sentences.
///
/// `qkv` is `[tokens, 3·hidden]` without bias (each row: query, key, value, each `heads`
/// blocks of `head_dim`), `qkv_bias` its bias; `lens` the token count of each sentence, in
/// order. Each sentence attends only to its own tokens (so no mask is needed). Returns the
/// context `[tokens, hidden]`, heads side by side as BERT concatenates them.
pub(crate) fn attention(
    qkv: &[f32],
    qkv_bias: &[f32],
    lens: &[usize],
    heads: usize,
    head_dim: usize,
) -> Vec<f32> {
    let hidden = heads * head_dim;
    let width = 3 * hidden;
    let tokens: usize = lens.iter().sum();
    let mut out = vec![0.0f32; tokens * hidden];
    // One output chunk per sentence.
    let mut chunks: Vec<(&mut [f32], &[f32])> = Vec::with_capacity(lens.len());
    let mut rest_out: &mut [f32] = &mut out;
    let mut rest_in: &[f32] = qkv;
    for &len in lens {
        let (o, ro) = rest_out.split_at_mut(len * hidden);
        let (i, ri) = rest_in.split_at(len * width);
        chunks.push((o, i));
        rest_out = ro;
        rest_in = ri;
    }
    let scale = 1.0 / (head_dim as f32).sqrt();
    chunks.into_par_iter().for_each(|(out, qkv)| {
        pulp::Arch::new().dispatch(AttendTask {
            out,
            qkv,
            qkv_bias,
            heads,
            head_dim,
            scale,
        });
    });
    out
}

/// One sentence of [`attention`] (see [`GeluTask`] for why a struct).
struct AttendTask<'a> {
    out: &'a mut [f32],
    qkv: &'a [f32],
    qkv_bias: &'a [f32],
    heads: usize,
    head_dim: usize,
    scale: f32,
}

impl pulp::WithSimd for AttendTask<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        attend(
            self.out,
            self.qkv,
            self.qkv_bias,
            self.heads,
            self.head_dim,
            self.scale,
        );
    }
}

/// Attention of one sentence: `qkv` its `[len, 3·hidden]` rows, `out` its `[len, hidden]`.
#[inline(always)]
fn attend(
    out: &mut [f32],
    qkv: &[f32],
    qkv_bias: &[f32],
    heads: usize,
    head_dim: usize,
    scale: f32,
) {
    let hidden = heads * head_dim;
    let width = 3 * hidden;
    let len = qkv.len() / width;
    let n = len * head_dim;
    // The sentence's queries and values with bias, head-major (`[heads][len][head_dim]`), and
    // its keys transposed (`[heads][head_dim][len]`): a query's scores against every key are
    // then `head_dim` multiply-adds over a row of `len` lanes, and its context `len` over rows of
    // `head_dim`, with no horizontal sum per score.
    let mut q = vec![0.0f32; heads * n];
    let mut kt = vec![0.0f32; heads * n];
    let mut v = vec![0.0f32; heads * n];
    for (t, row) in qkv.chunks_exact(width).enumerate() {
        for h in 0..heads {
            for d in 0..head_dim {
                let c = h * head_dim + d;
                q[h * n + t * head_dim + d] = (row[c] + qkv_bias[c]) * scale;
                kt[h * n + d * len + t] = row[hidden + c] + qkv_bias[hidden + c];
                v[h * n + t * head_dim + d] = row[2 * hidden + c] + qkv_bias[2 * hidden + c];
            }
        }
    }
    let mut scores = vec![0.0f32; len];
    let mut ctx = vec![0.0f32; head_dim];
    for h in 0..heads {
        let (q, kt, v) = (&q[h * n..][..n], &kt[h * n..][..n], &v[h * n..][..n]);
        for (i, qi) in q.chunks_exact(head_dim).enumerate() {
            scores.fill(0.0);
            for (qd, kd) in qi.iter().zip(kt.chunks_exact(len)) {
                for (s, k) in scores.iter_mut().zip(kd) {
                    *s += qd * k;
                }
            }
            let max = max(&scores);
            for s in scores.iter_mut() {
                *s = exp_neg(*s - max);
            }
            let total = sum(&scores);
            ctx.fill(0.0);
            for (p, vj) in scores.iter().zip(v.chunks_exact(head_dim)) {
                for (c, x) in ctx.iter_mut().zip(vj) {
                    *c += p * x;
                }
            }
            let dst = &mut out[i * hidden + h * head_dim..][..head_dim];
            for (d, c) in dst.iter_mut().zip(&ctx) {
                *d = c / total;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Maclaurin series (f64), exact enough for |x| ≤ 3.
    fn erf_series(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_and_exp_match_the_exact_functions() {
        // Tabulated values (Abramowitz & Stegun table 7.1): erf(0.5) = 0.5204998778,
        // erf(1) = 0.8427007929, erf(2) = 0.9953222650.
        assert!((erf(0.5) - 0.520_499_9).abs() < 3e-7);
        assert!((erf(1.0) - 0.842_700_8).abs() < 3e-7);
        assert!((erf(-2.0) + 0.995_322_3).abs() < 3e-7);
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(10.0), 1.0);
        let mut x = -3.0f64;
        while x <= 3.0 {
            let err = (f64::from(erf(x as f32)) - erf_series(x)).abs();
            assert!(err < 5e-7, "erf({x}) off by {err}");
            x += 0.01;
        }
        let mut x = -80.0f32;
        while x <= 0.0 {
            let want = f64::from(x).exp();
            let rel = (f64::from(exp_neg(x)) - want).abs() / want;
            assert!(rel < 1e-6, "exp({x}) off by {rel}");
            x += 0.37;
        }
        assert_eq!(exp_neg(0.0), 1.0);
        assert_eq!(exp_neg(-200.0), exp_neg(-87.0));
    }

    #[test]
    fn gelu_and_add_norm_match_hand_values() {
        // gelu(1) = 0.5·(1 + erf(1/√2)) = 0.8413447; gelu(-1) = -0.1586553.
        let g = bias_gelu(&[0.5, -1.5], &[0.5, 0.5], true);
        assert!((g[0] - 0.841_344_7).abs() < 1e-6, "{}", g[0]);
        assert!((g[1] + 0.158_655_3).abs() < 1e-6, "{}", g[1]);
        // tanh form: gelu_new(1) = 0.8411920.
        let g = bias_gelu(&[1.0], &[0.0], false);
        assert!((g[0] - 0.841_192).abs() < 1e-6, "{}", g[0]);
        // Row (1,2,3) + bias (0,0,0) + residual (1,1,1) = (2,3,4): mean 3, variance 2/3.
        let w = [1.0, 1.0, 2.0];
        let b = [0.0, 0.5, 0.0];
        let n = Norm {
            weight: &w,
            bias: &b,
            eps: 0.0,
        };
        let o = add_norm(&[1.0, 2.0, 3.0], &[0.0; 3], &[1.0; 3], &n);
        let s = (1.5f32).sqrt(); // 1/sqrt(2/3)
        for (got, want) in o.iter().zip([-s, 0.5, 2.0 * s]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
    }

    /// Attention written the plain way (f64, one sentence at a time) for comparison.
    fn naive(qkv: &[f32], bias: &[f32], lens: &[usize], heads: usize, d: usize) -> Vec<f64> {
        let hidden = heads * d;
        let mut out = Vec::new();
        let mut off = 0;
        let at = |t: usize, c: usize| f64::from(qkv[t * 3 * hidden + c] + bias[c]);
        for &len in lens {
            let mut block = vec![0.0f64; len * hidden];
            for h in 0..heads {
                for i in 0..len {
                    let s: Vec<f64> = (0..len)
                        .map(|j| {
                            (0..d)
                                .map(|x| at(off + i, h * d + x) * at(off + j, hidden + h * d + x))
                                .sum::<f64>()
                                / (d as f64).sqrt()
                        })
                        .collect();
                    let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for x in 0..d {
                        block[i * hidden + h * d + x] = (0..len)
                            .map(|j| e[j] / z * at(off + j, 2 * hidden + h * d + x))
                            .sum();
                    }
                }
            }
            out.extend(block);
            off += len;
        }
        out
    }

    #[test]
    fn packed_attention_equals_attention_sentence_by_sentence() {
        let (heads, d) = (2, 3);
        let lens = [3, 1, 4];
        let tokens: usize = lens.iter().sum();
        // Deterministic values in [-1, 1).
        let mut seed = 12345u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        };
        let qkv: Vec<f32> = (0..tokens * 3 * heads * d).map(|_| next()).collect();
        let bias: Vec<f32> = (0..3 * heads * d).map(|_| next()).collect();
        let got = attention(&qkv, &bias, &lens, heads, d);
        let want = naive(&qkv, &bias, &lens, heads, d);
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{g} vs {w}");
        }
        // A one-token sentence attends only to itself: its context is its own value.
        let v1: Vec<f32> = (0..heads * d)
            .map(|c| qkv[3 * 3 * heads * d + 2 * heads * d + c] + bias[2 * heads * d + c])
            .collect();
        for (c, v) in v1.iter().enumerate() {
            assert!((got[3 * heads * d + c] - v).abs() < 1e-6);
        }
    }
}
