//! The standard normal distribution.
//!
//! The cdf uses W. J. Cody's rational Chebyshev approximations ("Rational
//! Chebyshev approximations for the error function", Math. Comp. 1969, and
//! ACM TOMS Algorithm 715, 1993), the same published approximations that R's
//! `pnorm` uses, so values agree with R to about 1e-16 relative, in both
//! tails. The quantile uses M. J. Wichura's Algorithm AS 241 (PPND16,
//! Applied Statistics 37, 1988), accurate to about 1e-16 relative, which R's
//! `qnorm` also uses.
//!
//! Functions that take any real `x` propagate NaN like the standard library
//! does; the quantile, which has no answer outside (0, 1), returns `None`
//! there instead.

// The coefficients are quoted with all the digits the published
// algorithms give, so that they can be checked against the sources.
#![allow(clippy::excessive_precision)]

/// 1/sqrt(2*pi).
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_677_94;

/// Density of the standard normal distribution at `x`.
pub fn pdf(x: f64) -> f64 {
    FRAC_1_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Lower-tail probability P(Z <= x) of the standard normal.
pub fn cdf(x: f64) -> f64 {
    cody(x).0
}

/// Upper-tail probability P(Z > x) of the standard normal, computed
/// directly (not as `1 - cdf(x)`) so that it keeps full relative accuracy
/// far in the upper tail.
pub fn sf(x: f64) -> f64 {
    cody(x).1
}

/// Two-sided p-value of a z statistic: P(|Z| >= |z|) = 2 * P(Z > |z|).
///
/// NaN in gives NaN out; infinite `z` gives 0.
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return z;
    }
    (2.0 * sf(z.abs())).min(1.0)
}

/// Quantile (inverse cdf) of the standard normal: the `x` with
/// `cdf(x) == p`.
///
/// Returns `None` unless `0 < p < 1` (no finite answer exists at 0 or 1,
/// and none at all for NaN or values outside [0, 1]).
pub fn quantile(p: f64) -> Option<f64> {
    // `!(p > 0.0 && p < 1.0)` also rejects NaN.
    if !(p > 0.0 && p < 1.0) {
        return None;
    }
    Some(as241(p))
}

/// P(Z > x) * exp(x^2 / 2) for x >= 0, without underflow for large x
/// (the Gaussian factor of Cody's approximations is simply left out).
/// Used for the scaled complementary error function erfcx(s) =
/// 2 * sf_scaled(s * sqrt 2).
pub(crate) fn sf_scaled(x: f64) -> f64 {
    let y = x.abs();
    if y <= 32f64.sqrt() {
        return sf(y) * (0.5 * y * y).exp();
    }
    let (p, q) = (&TAIL_P, &TAIL_Q);
    let xsq = 1.0 / (y * y);
    let mut num = p[5] * xsq;
    let mut den = xsq;
    for i in 0..4 {
        num = (num + p[i]) * xsq;
        den = (den + q[i]) * xsq;
    }
    let r = xsq * (num + p[4]) / (den + q[4]);
    (FRAC_1_SQRT_2PI - r) / y
}

/// Cody's coefficients for sqrt(32) < |x| (asymptotic tail region).
const TAIL_P: [f64; 6] = [
    0.215_898_534_057_956_99,
    0.127_401_161_160_247_363_9,
    0.022_235_277_870_649_807,
    0.001_421_619_193_227_893_466,
    2.911_287_495_116_879_2e-5,
    0.023_073_441_764_940_173_03,
];
const TAIL_Q: [f64; 5] = [
    1.284_260_096_144_911_21,
    0.468_238_212_480_865_118,
    0.065_988_137_868_928_551_5,
    0.003_782_396_332_027_582_44,
    7.297_515_550_839_662_05e-5,
];

/// Cody's approximation: returns (lower tail, upper tail) at `x`.
fn cody(x: f64) -> (f64, f64) {
    // Coefficients for |x| <= 0.66291 (erf-like central region).
    const A: [f64; 5] = [
        2.235_252_035_460_683_928_7,
        161.028_231_068_555_878_81,
        1_067.689_485_460_370_958_2,
        18_154.981_253_343_561_249,
        0.065_682_337_918_207_449_113,
    ];
    const B: [f64; 4] = [
        47.202_581_904_688_241_87,
        976.098_551_737_776_693_22,
        10_260.932_208_618_978_205,
        45_507.789_335_026_729_956,
    ];
    // Coefficients for 0.66291 < |x| <= sqrt(32).
    const C: [f64; 9] = [
        0.398_941_512_088_134_667_64,
        8.883_149_794_388_375_941_2,
        93.506_656_132_177_855_979,
        597.270_276_394_800_262_26,
        2_494.537_585_290_372_671_1,
        6_848.190_450_536_282_332_6,
        11_602.651_437_647_350_124,
        9_842.714_838_383_978_021_8,
        1.076_557_677_372_019_231_7e-8,
    ];
    const D: [f64; 8] = [
        22.266_688_044_328_115_691,
        235.387_901_782_624_998_61,
        1_519.377_599_407_554_805,
        6_485.558_298_266_760_755,
        18_615.571_640_885_098_091,
        34_900.952_721_145_977_266,
        38_912.003_286_093_271_411,
        19_685.429_676_859_990_727,
    ];
    const P: [f64; 6] = TAIL_P;
    const Q: [f64; 5] = TAIL_Q;

    if x.is_nan() {
        return (x, x);
    }
    let y = x.abs();
    if y <= 0.66291 {
        let xsq = if y > f64::EPSILON * 0.5 { x * x } else { 0.0 };
        let mut num = A[4] * xsq;
        let mut den = xsq;
        for i in 0..3 {
            num = (num + A[i]) * xsq;
            den = (den + B[i]) * xsq;
        }
        let t = x * (num + A[3]) / (den + B[3]);
        return (0.5 + t, 0.5 - t);
    }
    // `tail` is P(Z > |x|).
    let tail = if y <= 32f64.sqrt() {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        gaussian_factor(y) * (num + C[7]) / (den + D[7])
    } else if y < 50.0 {
        let xsq = 1.0 / (x * x);
        let mut num = P[5] * xsq;
        let mut den = xsq;
        for i in 0..4 {
            num = (num + P[i]) * xsq;
            den = (den + Q[i]) * xsq;
        }
        let r = xsq * (num + P[4]) / (den + Q[4]);
        gaussian_factor(y) * (FRAC_1_SQRT_2PI - r) / y
    } else {
        0.0
    };
    // Flush subnormals to zero, as R does: they carry no useful precision.
    let tail = if tail < f64::MIN_POSITIVE { 0.0 } else { tail };
    let body = 1.0 - tail;
    if x > 0.0 { (body, tail) } else { (tail, body) }
}

/// exp(-y^2/2) computed as exp(-ys^2/2) * exp(-(y-ys)(y+ys)/2) with ys = y
/// rounded down to a multiple of 1/16: splitting y^2 this way avoids the
/// rounding error of forming y*y in one go, which would otherwise be
/// amplified by exp for large y (Cody's trick).
fn gaussian_factor(y: f64) -> f64 {
    let ys = (y * 16.0).floor() / 16.0;
    let del = (y - ys) * (y + ys);
    (-ys * ys * 0.5).exp() * (-del * 0.5).exp()
}

/// Wichura's AS 241 (PPND16) for 0 < p < 1.
fn as241(p: f64) -> f64 {
    const A: [f64; 8] = [
        3.387_132_872_796_366_608_0,
        1.331_416_678_917_843_774_5e2,
        1.971_590_950_306_551_442_7e3,
        1.373_169_376_550_946_112_5e4,
        4.592_195_393_154_987_145_7e4,
        6.726_577_092_700_870_085_3e4,
        3.343_057_558_358_812_810_5e4,
        2.509_080_928_730_122_672_7e3,
    ];
    const B: [f64; 8] = [
        1.0,
        4.231_333_070_160_091_125_2e1,
        6.871_870_074_920_579_083_0e2,
        5.394_196_021_424_751_107_7e3,
        2.121_379_430_158_659_586_7e4,
        3.930_789_580_009_271_061_0e4,
        2.872_908_573_572_194_267_4e4,
        5.226_495_278_852_854_561_0e3,
    ];
    const C: [f64; 8] = [
        1.423_437_110_749_683_577_34,
        4.630_337_846_156_545_295_90,
        5.769_497_221_460_691_405_50,
        3.647_848_324_763_204_605_04,
        1.270_458_252_452_368_382_58,
        2.417_807_251_774_506_117_70e-1,
        2.272_384_498_926_918_458_33e-2,
        7.745_450_142_783_414_076_40e-4,
    ];
    const D: [f64; 8] = [
        1.0,
        2.053_191_626_637_758_821_87,
        1.676_384_830_183_803_849_40,
        6.897_673_349_851_000_045_50e-1,
        1.481_039_764_274_800_745_90e-1,
        1.519_866_656_361_645_719_66e-2,
        5.475_938_084_995_344_946_00e-4,
        1.050_750_071_644_416_843_24e-9,
    ];
    const E: [f64; 8] = [
        6.657_904_643_501_103_777_20,
        5.463_784_911_164_114_369_90,
        1.784_826_539_917_291_335_80,
        2.965_605_718_285_048_912_30e-1,
        2.653_218_952_657_612_309_30e-2,
        1.242_660_947_388_078_438_60e-3,
        2.711_555_568_743_487_578_15e-5,
        2.010_334_399_292_288_132_65e-7,
    ];
    const F: [f64; 8] = [
        1.0,
        5.998_322_065_558_879_376_90e-1,
        1.369_298_809_227_358_053_10e-1,
        1.487_536_129_085_061_485_25e-2,
        7.868_691_311_456_132_591_00e-4,
        1.846_318_317_510_054_681_80e-5,
        1.421_511_758_316_445_888_70e-7,
        2.044_263_103_389_939_785_64e-15,
    ];

    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * horner(&A, r) / horner(&B, r);
    }
    // Work with the smaller tail so that precision is kept near 0 and 1.
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let value = if r <= 5.0 {
        let r = r - 1.6;
        horner(&C, r) / horner(&D, r)
    } else {
        let r = r - 5.0;
        horner(&E, r) / horner(&F, r)
    };
    if q < 0.0 { -value } else { value }
}

/// Evaluates `c[0] + c[1] x + ... + c[n-1] x^(n-1)` by Horner's rule.
fn horner(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &ci| acc * x + ci)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetry_and_centre() {
        assert_eq!(cdf(0.0), 0.5);
        assert_eq!(quantile(0.5), Some(0.0));
        for &x in &[0.1, 0.5, 0.7, 1.3, 3.0, 6.0, 12.0, 37.5] {
            assert_eq!(cdf(-x), sf(x));
            let s = cdf(x) + cdf(-x);
            assert!((s - 1.0).abs() < 1e-15, "x={x} sum={s}");
        }
    }

    #[test]
    fn quantile_rejects_outside_open_unit_interval() {
        for p in [0.0, 1.0, -0.1, 1.1, f64::NAN, f64::INFINITY] {
            assert_eq!(quantile(p), None, "p={p}");
        }
    }

    #[test]
    fn quantile_inverts_cdf() {
        // Relative round trip over many magnitudes of tail probability.
        for k in 1..300 {
            let p = 10f64.powf(-(k as f64) / 10.0);
            let x = quantile(p).unwrap();
            let back = cdf(x);
            assert!(((back - p) / p).abs() < 1e-13, "p={p} x={x} back={back}");
        }
    }

    #[test]
    fn nan_and_infinities() {
        assert!(cdf(f64::NAN).is_nan());
        assert!(pdf(f64::NAN).is_nan());
        assert!(two_sided_p(f64::NAN).is_nan());
        assert_eq!(cdf(f64::INFINITY), 1.0);
        assert_eq!(cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(two_sided_p(f64::INFINITY), 0.0);
        assert_eq!(two_sided_p(0.0), 1.0);
    }
}
