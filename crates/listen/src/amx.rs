//! The linear layers' matrix products on Intel AMX tiles (Advanced Matrix Extensions, Sapphire
//! Rapids and later), in bfloat16 with single-precision sums.
//!
//! Why by hand: candle's CPU matmul (the `gemm` crate) has no AMX path, Rust's AMX intrinsics are
//! unstable (`x86_amx_intrinsics`), and no maintained crate offers an AMX matmul on its own (the
//! engines that have one bring a whole inference stack). One tile instruction
//! (`TDPBF16PS`) does 16×16×32 multiply-adds, sixteen times what AVX-512 does per cycle on the
//! same core; with it the encoder's matmuls stop being most of an embedding's time.
//!
//! Precision: the inputs of each product (weights and activations) are rounded to bfloat16
//! (8-bit significand, round to nearest even), the products are summed in f32. Everything
//! between the products (bias, attention, softmax, GELU, layer norm, pooling) stays in f32. The
//! embedding test holds this path, like the f32 one, to cosine ≥ 0.999 against
//! sentence-transformers; measured on its sentences, the worst cosine is 0.99995 (1 − cos about
//! 5·10⁻⁵, against the bound's 10⁻³). `Arithmetic::F32` turns it off (the server's
//! `embed_arithmetic = "f32"`, `BORDIN_EMBED_ARITHMETIC=f32` for the command line).
//!
//! This is the only module of the workspace with `unsafe` code (the workspace denies it
//! elsewhere): the tile instructions as inline assembly, the CPUID read and one Linux system call
//! that asks for the tile state. Each block says why it is sound.

#![allow(unsafe_code)]

use rayon::prelude::*;

/// Rows and columns of the output one kernel call computes: 2 × 2 tiles of 16 × 16.
const BLOCK: usize = 32;
/// Inputs (the shared dimension `k`) per tile step: one 64-byte tile row of bfloat16.
const K_STEP: usize = 32;
/// One 64-byte line of bfloat16 values, aligned to a cache line. Tile loads are rows of 64
/// bytes: from a misaligned address each row spans two cache lines, and the kernel runs three
/// times slower (measured on a Xeon with AMX: 66 against 195–216 cycles per step of four
/// products). Inputs and packed weights are therefore built from these.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([u16; K_STEP]);

const ZERO_LINE: Line = Line([0; K_STEP]);

/// Sixteen f32 sums, aligned to a cache line (one tile row), for the column-split scratch.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct SumLine([f32; 16]);

/// Whether this CPU and OS can run [`matmul`]: the CPU reports AMX-TILE and AMX-BF16, and Linux
/// granted this process the tile data state. Checked once.
pub(crate) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID exists on every x86-64 CPU; leaf 7 is read only when the CPU reports it.
    #[allow(unused_unsafe)]
    let (max_leaf, edx) = unsafe {
        let max = __cpuid(0).eax;
        (max, if max >= 7 { __cpuid_count(7, 0).edx } else { 0 })
    };
    // CPUID.(EAX=7, ECX=0):EDX bit 22 AMX-BF16, bit 24 AMX-TILE (Intel SDM, vol. 2A, CPUID).
    if max_leaf < 7 || edx & (1 << 22) == 0 || edx & (1 << 24) == 0 {
        return false;
    }
    // Linux (5.16 and later) hands the 8 KiB tile state to a process only on request:
    // arch_prctl(ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18). It fails where the
    // kernel or the hypervisor does not enable the state, and then AMX is not used.
    let ret: isize;
    // SAFETY: system call 158 (arch_prctl) with these arguments only records a permission for
    // the process; it reads and writes no memory of ours. `syscall` clobbers rcx and r11.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") 158isize => ret,
            in("rdi") 0x1023usize,
            in("rsi") 18usize,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// `f32` to bfloat16 bits, rounded to nearest even (NaN stays NaN). Branch-free, so that loops
/// over it vectorise.
#[inline(always)]
fn bf16(x: f32) -> u16 {
    let b = x.to_bits();
    let rounded = (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16;
    let quiet_nan = (b >> 16) as u16 | 0x40;
    if b & 0x7fff_ffff > 0x7f80_0000 {
        quiet_nan
    } else {
        rounded
    }
}

/// A weight matrix `[k, n]` in the layout the tile kernel reads: for each block of 32 output
/// columns, for each step of 32 inputs, two 16-column tiles whose rows hold pairs of
/// consecutive inputs (the "VNNI" layout `TDPBF16PS` multiplies by). Padded with zeros to whole
/// blocks and steps.
pub(crate) struct Weights {
    k: usize,
    n: usize,
    /// `k` rounded up to [`K_STEP`].
    kp: usize,
    data: Vec<Line>,
}

impl Weights {
    /// Packs the row-major `[k, n]` matrix `w`.
    pub(crate) fn new(w: &[f32], k: usize, n: usize) -> Weights {
        assert!(k > 0 && n > 0, "an empty weight matrix [{k}, {n}]");
        assert_eq!(w.len(), k * n, "{} weights for [{k}, {n}]", w.len());
        let kp = k.next_multiple_of(K_STEP);
        let np = n.next_multiple_of(BLOCK);
        let mut data = vec![ZERO_LINE; kp * np / K_STEP];
        // Index: column block, input step, tile (left/right 16 columns), pair row, column, which
        // of the pair.
        let mut at = 0;
        for cb in 0..np / BLOCK {
            for ks in 0..kp / K_STEP {
                for t in 0..2 {
                    for pair in 0..K_STEP / 2 {
                        for c in 0..16 {
                            for e in 0..2 {
                                let (i, j) = (ks * K_STEP + 2 * pair + e, cb * BLOCK + t * 16 + c);
                                if i < k && j < n {
                                    data[at / K_STEP].0[at % K_STEP] = bf16(w[i * n + j]);
                                }
                                at += 1;
                            }
                        }
                    }
                }
            }
        }
        Weights { k, n, kp, data }
    }

    pub(crate) fn k(&self) -> usize {
        self.k
    }

    pub(crate) fn n(&self) -> usize {
        self.n
    }

    /// The packed weights of column block `cb`.
    fn column_block(&self, cb: usize) -> &[Line] {
        let len = self.kp * BLOCK / K_STEP;
        &self.data[cb * len..(cb + 1) * len]
    }
}

/// `x @ w` for `x` `[rows, k]` row-major: `[rows, n]` row-major. Call only when [`available`].
///
/// Work is split over rayon's threads by blocks of 32 rows when there are enough of them (each
/// task writes its own rows of the output), else by blocks of 32 columns (a sentence or a live
/// turn is 10–60 tokens: one or two row blocks), written to a column-major scratch and copied.
pub(crate) fn matmul(x: &[f32], w: &Weights) -> Vec<f32> {
    assert!(available(), "AMX matmul on a CPU or OS without AMX");
    let rows = x.len() / w.k;
    assert_eq!(x.len(), rows * w.k, "{} inputs for k = {}", x.len(), w.k);
    if rows == 0 {
        return Vec::new();
    }
    let (kp, rp) = (w.kp, rows.next_multiple_of(BLOCK));
    let np = w.data.len() * K_STEP / kp;
    let (row_blocks, col_blocks) = (rp / BLOCK, np / BLOCK);
    let mut out = vec![0.0f32; rp * np];
    if row_blocks >= 2 * rayon::current_num_threads() {
        out.par_chunks_mut(BLOCK * np)
            .enumerate()
            .for_each(|(rb, out)| {
                let a = to_bf16(x, w.k, kp, rb * BLOCK, BLOCK);
                for cb in 0..col_blocks {
                    block(&a, kp, w.column_block(cb), &mut out[cb * BLOCK..], np);
                }
            });
    } else {
        let a = to_bf16(x, w.k, kp, 0, rp);
        // `[column block][rp][BLOCK]`, then into place.
        let mut scratch = vec![SumLine([0.0; 16]); col_blocks * rp * BLOCK / 16];
        scratch
            .par_chunks_mut(rp * BLOCK / 16)
            .enumerate()
            .for_each(|(cb, s)| {
                for (a, s) in a
                    .chunks_exact(BLOCK * kp / K_STEP)
                    .zip(s.chunks_exact_mut(BLOCK * BLOCK / 16))
                {
                    block(a, kp, w.column_block(cb), sums(s), BLOCK);
                }
            });
        for (cb, s) in scratch.chunks_exact(rp * BLOCK / 16).enumerate() {
            for (orow, srow) in out.chunks_exact_mut(np).zip(s.chunks_exact(BLOCK / 16)) {
                for (o, s) in orow[cb * BLOCK..(cb + 1) * BLOCK]
                    .chunks_exact_mut(16)
                    .zip(srow)
                {
                    o.copy_from_slice(&s.0);
                }
            }
        }
    }
    out.truncate(rows * np);
    if np != w.n {
        out = out
            .chunks_exact(np)
            .flat_map(|r| r[..w.n].iter().copied())
            .collect();
    }
    out
}

/// Rows `first..first + count` of `x` (`[rows, k]`) in bfloat16, each padded to `kp` (whole
/// lines) and missing rows (past the end of `x`) zero.
fn to_bf16(x: &[f32], k: usize, kp: usize, first: usize, count: usize) -> Vec<Line> {
    let per_row = kp / K_STEP;
    let mut a = vec![ZERO_LINE; count * per_row];
    pulp::Arch::new().dispatch(ToBf16 {
        a: &mut a,
        x: x.chunks_exact(k).skip(first),
        per_row,
    });
    a
}

/// The loop of [`to_bf16`], compiled by `pulp` for the CPU's vector instructions (a struct so
/// that `with_simd` can be `inline(always)`).
struct ToBf16<'a> {
    a: &'a mut [Line],
    x: std::iter::Skip<std::slice::ChunksExact<'a, f32>>,
    per_row: usize,
}

impl pulp::WithSimd for ToBf16<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for (a, x) in self.a.chunks_exact_mut(self.per_row).zip(self.x) {
            for (line, x) in a.iter_mut().zip(x.chunks(K_STEP)) {
                for (v, x) in line.0.iter_mut().zip(x) {
                    *v = bf16(*x);
                }
            }
        }
    }
}

/// The scratch's lines as plain f32s.
fn sums(lines: &mut [SumLine]) -> &mut [f32] {
    let len = lines.len() * 16;
    // SAFETY: `SumLine` is `repr(C)` around `[f32; 16]` and exactly 64 bytes (no padding), so
    // `lines` is `len` initialised f32s in a row; the result borrows `lines` mutably for its
    // whole life, so nothing else can reach them meanwhile.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<f32>(), len) }
}

/// The 64-byte tile configuration (palette 1): tiles 0–7 each 16 rows of 64 bytes. Layout from
/// the Intel SDM (LDTILECFG): palette at byte 0, bytes per row of tile `i` at `16 + 2i`, rows of
/// tile `i` at `48 + i`.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

const CONFIG: TileConfig = {
    let mut c = [0u8; 64];
    c[0] = 1;
    let mut t = 0;
    while t < 8 {
        c[16 + 2 * t] = 64;
        c[48 + t] = 16;
        t += 1;
    }
    TileConfig(c)
};

/// One 32 × 32 block of the output: `c` (rows `c_stride` f32 apart) = `a` (32 rows of `kp`
/// bfloat16, row-major) @ the column block `b` (packed by [`Weights::new`]).
///
/// Tiles: 0–3 the four 16 × 16 sums, 4–5 the two 16-row halves of `a`'s current step, 6–7 the
/// left and right 16 columns of `b`'s. Loads and products are interleaved so that each load
/// waits only for the products that read its tile before (tile registers are not renamed).
fn block(a: &[Line], kp: usize, b: &[Line], c: &mut [f32], c_stride: usize) {
    let steps = kp / K_STEP;
    // The bounds every tile access below stays within (checked here, so that a wrong call
    // panics instead of reading or writing out of bounds).
    assert!(steps > 0 && kp.is_multiple_of(K_STEP));
    assert_eq!(a.len(), BLOCK * steps, "a block of 32 input rows");
    assert_eq!(b.len(), steps * BLOCK, "a packed column block");
    assert!(c_stride >= BLOCK && c.len() >= (BLOCK - 1) * c_stride + BLOCK);
    let config = &CONFIG;
    // SAFETY:
    // - The CPU has AMX-TILE and AMX-BF16 and the OS granted the tile state: every caller goes
    //   through `matmul`, which asserts `available()`.
    // - The configuration is 64 bytes, 64-aligned, palette 1, eight tiles of 16 rows × 64 bytes
    //   (within palette 1's limits). It is loaded at the start of this block and the tiles are
    //   released at its end, so no tile state outlives the block or is shared with other code.
    // - Loads: tiles 4–5 read 16 rows of 64 bytes at `a + 64·s` and `a + 16·2·kp + 64·s`, rows
    //   `2·kp` bytes apart, for steps `s < steps = kp / 32`: the last byte read is
    //   `(31·kp + 32·steps)·2 − 1 < 32·kp·2 = a.len()·64`. Tiles 6–7 read 16 rows of 64 bytes at
    //   `b + 2048·s` and `+ 1024`, rows 64 bytes apart: the last byte is `2048·steps − 1 <
    //   b.len()·64`. (Tile loads need no alignment; `Line`'s is for speed.)
    // - Stores: tiles 0–3 write 16 rows of 64 bytes (16 f32) at `c`, `c + 64`, `c + 16·stride·4`
    //   and that `+ 64`, rows `4·stride` bytes apart: the last byte written is
    //   `(31·stride + 32)·4 − 1 < c.len()·4`, and `c` is borrowed mutably, so nothing else
    //   reads or writes it meanwhile.
    // - The loop counter is `steps > 0`; the registers the block changes are its outputs.
    unsafe {
        std::arch::asm!(
            "ldtilecfg [{config}]",
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "2:",
            "tileloadd tmm4, [{a} + {a_stride}*1]",
            "tileloadd tmm6, [{b} + {b_stride}*1]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tileloadd tmm7, [{b} + {b_stride}*1 + 1024]",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tileloadd tmm5, [{a2} + {a_stride}*1]",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "add {a}, 64",
            "add {a2}, 64",
            "add {b}, 2048",
            "dec {steps}",
            "jnz 2b",
            "tilestored [{c} + {c_stride}*1], tmm0",
            "tilestored [{c} + {c_stride}*1 + 64], tmm1",
            "tilestored [{c2} + {c_stride}*1], tmm2",
            "tilestored [{c2} + {c_stride}*1 + 64], tmm3",
            "tilerelease",
            config = in(reg) config.0.as_ptr(),
            a = inout(reg) a.as_ptr().cast::<u8>() => _,
            a2 = inout(reg) a[16 * steps..].as_ptr().cast::<u8>() => _,
            a_stride = in(reg) kp * 2,
            b = inout(reg) b.as_ptr().cast::<u8>() => _,
            b_stride = in(reg) 64usize,
            steps = inout(reg) steps => _,
            c = in(reg) c.as_mut_ptr(),
            c2 = in(reg) c[16 * c_stride..].as_mut_ptr(),
            c_stride = in(reg) c_stride * 4,
            options(nostack),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfloat16_rounds_to_nearest_even() {
        assert_eq!(bf16(1.0), 0x3f80);
        assert_eq!(bf16(-2.0), 0xc000);
        // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: to the even one, 1.
        assert_eq!(bf16(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3·2⁻⁸ lies halfway between 1 + 2⁻⁷ and 1 + 2⁻⁶: to the even one.
        assert_eq!(bf16(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(bf16(1.0 + 1.5 / 256.0), 0x3f81);
        assert_eq!(bf16(f32::MAX), 0x7f80, "rounds up to infinity");
        assert!(f32::from_bits(u32::from(bf16(f32::NAN)) << 16).is_nan());
    }

    /// The tile kernel against a plain product of the same bfloat16-rounded inputs, summed in
    /// f64: only the f32 summation may differ. Runs where the CPU has AMX (it says so and
    /// returns elsewhere; `BORDIN_REQUIRE_AMX=1` makes that a failure).
    #[test]
    fn tile_products_equal_a_plain_product_of_the_rounded_inputs() {
        if !available() {
            assert!(
                std::env::var("BORDIN_REQUIRE_AMX").map_or(true, |v| v != "1"),
                "BORDIN_REQUIRE_AMX=1 but this CPU or OS has no AMX"
            );
            eprintln!("skipped: no AMX on this CPU or OS");
            return;
        }
        let mut seed = 99u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let round = |v: f32| f64::from(f32::from_bits(u32::from(bf16(v)) << 16));
        // The model's shapes (one sentence and a batch), and shapes that need padding in every
        // dimension, on both work splits (few rows: by columns; many: by rows).
        for (k, n, rows) in [
            (384, 1152, 20),
            (1536, 384, 45),
            (384, 1536, 300),
            (19, 70, 5),
            (70, 19, 130),
            (1, 1, 1),
        ] {
            let w: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let x: Vec<f32> = (0..rows * k).map(|_| next()).collect();
            let packed = Weights::new(&w, k, n);
            assert_eq!((packed.k(), packed.n()), (k, n));
            let got = matmul(&x, &packed);
            assert_eq!(got.len(), rows * n);
            for r in 0..rows {
                for c in 0..n {
                    let want: f64 = (0..k)
                        .map(|i| round(x[r * k + i]) * round(w[i * n + c]))
                        .sum();
                    let g = f64::from(got[r * n + c]);
                    assert!(
                        (g - want).abs() <= 1e-6 * k as f64,
                        "[{r}, {c}] of {rows}x{k} @ {k}x{n}: {g} vs {want}"
                    );
                }
            }
        }
        assert!(matmul(&[], &Weights::new(&[1.0], 1, 1)).is_empty());
    }
}
