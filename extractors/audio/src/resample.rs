//! Streaming windowed-sinc resampler for one (mono) channel.
//!
//! Positions are tracked as exact rationals (`n * in / out` after dividing by the gcd), so there is
//! no drift over hours of audio, and the input history is carried across calls, so packet
//! boundaries are invisible in the output (no clicks).

/// Zero crossings of the sinc on each side: ~70 taps at 44.1 kHz -> 16 kHz, plenty for speech.
const ZERO_CROSSINGS: f64 = 10.0;
/// Cutoff as a fraction of the lower Nyquist frequency: leaves room for the window's transition band.
const ROLLOFF: f64 = 0.92;
/// Above this many phases (odd rate pairs), phases are quantised: the timing error is < 1/4096 of
/// an input sample, far below anything audible.
const MAX_PHASES: u64 = 4096;
/// Taps are padded to a multiple of this so the dot product vectorises without a remainder loop.
const LANES: usize = 8;

/// Converts a stream of samples at one rate to another; call `process` per packet, `flush` at the end.
pub struct Resampler {
    /// `None` when the rates are equal: samples pass through untouched.
    sinc: Option<Sinc>,
}

struct Sinc {
    /// Output samples per `m` input samples (rates divided by their gcd).
    l: u64,
    m: u64,
    phases: u64,
    /// Taps per phase (padded to `LANES`).
    taps: usize,
    /// Taps before the output instant: output `n` uses inputs `ipos - (half - 1) ..`.
    half: usize,
    /// `phases * taps` filter coefficients, one row per fractional position.
    table: Vec<f32>,
    /// Input not yet fully consumed; `hist[0]` is input sample number `hist_start`.
    hist: Vec<f32>,
    hist_start: i64,
    /// Input samples received so far.
    consumed: u64,
    /// Index of the next output sample.
    next_out: u64,
}

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` Hz (both non-zero).
    pub fn new(in_rate: u32, out_rate: u32) -> Self {
        if in_rate == out_rate {
            return Self { sinc: None };
        }
        Self {
            sinc: Some(Sinc::new(u64::from(in_rate), u64::from(out_rate))),
        }
    }

    /// Resample `input`, appending whatever output is complete to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        match &mut self.sinc {
            None => out.extend_from_slice(input),
            Some(s) => {
                s.hist.extend_from_slice(input);
                s.consumed += input.len() as u64;
                let avail_end = s.hist_start + s.hist.len() as i64;
                s.emit(avail_end, out);
                s.trim();
            }
        }
    }

    /// Emit the tail (the input is treated as followed by silence) so that the output length is
    /// `ceil(input_len * out_rate / in_rate)`.
    pub fn flush(&mut self, out: &mut Vec<f32>) {
        if let Some(s) = &mut self.sinc {
            s.hist.resize(s.hist.len() + s.taps, 0.0);
            let avail_end = s.hist_start + s.hist.len() as i64;
            s.emit(avail_end, out);
            s.trim();
        }
    }
}

impl Sinc {
    fn new(in_rate: u64, out_rate: u64) -> Self {
        let g = gcd(in_rate, out_rate);
        let (l, m) = (out_rate / g, in_rate / g);
        let phases = l.min(MAX_PHASES);
        // Cutoff in cycles per input sample: below the output Nyquist when downsampling, below
        // the input Nyquist when upsampling.
        let fc = 0.5 * ROLLOFF * (out_rate as f64 / in_rate as f64).min(1.0);
        let half_width = ZERO_CROSSINGS / (2.0 * fc);
        let half = half_width.ceil() as usize + 1;
        let taps = (2 * half).div_ceil(LANES) * LANES;
        let mut table = vec![0f32; phases as usize * taps];
        for p in 0..phases as usize {
            let frac = p as f64 / phases as f64;
            let row = &mut table[p * taps..(p + 1) * taps];
            let mut sum = 0.0;
            let mut w = vec![0f64; taps];
            for (j, wj) in w.iter_mut().enumerate() {
                // Distance (in input samples) between tap j and the output instant.
                let t = j as f64 - (half as f64 - 1.0) - frac;
                if t.abs() < half_width {
                    let x = 2.0 * fc * t;
                    let sinc = if x == 0.0 {
                        1.0
                    } else {
                        (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
                    };
                    // Blackman window over [-half_width, half_width].
                    let u = (t / half_width + 1.0) * 0.5;
                    let win = 0.42 - 0.5 * (2.0 * std::f64::consts::PI * u).cos()
                        + 0.08 * (4.0 * std::f64::consts::PI * u).cos();
                    *wj = sinc * win;
                    sum += *wj;
                }
            }
            // Normalising each row gives exactly unity DC gain at every phase, so a constant input
            // never picks up a ripple at the phase-cycle rate.
            for (r, wj) in row.iter_mut().zip(&w) {
                *r = (*wj / sum) as f32;
            }
        }
        Self {
            l,
            m,
            phases,
            taps,
            half,
            table,
            // Leading zeros: the signal is silent before its first sample.
            hist: vec![0.0; half - 1],
            hist_start: -(half as i64 - 1),
            consumed: 0,
            next_out: 0,
        }
    }

    /// Input position (integer part) and table row of output sample `n`.
    fn position(&self, n: u64) -> (i64, usize) {
        let num = u128::from(n) * u128::from(self.m);
        let ipos = (num / u128::from(self.l)) as i64;
        let rem = num % u128::from(self.l);
        let phase = (rem * u128::from(self.phases) / u128::from(self.l)) as usize;
        (ipos, phase)
    }

    /// Produce every output whose taps lie before `avail_end` and whose instant lies inside the
    /// input received so far.
    fn emit(&mut self, avail_end: i64, out: &mut Vec<f32>) {
        let limit = u128::from(self.consumed) * u128::from(self.l);
        loop {
            if u128::from(self.next_out) * u128::from(self.m) >= limit {
                break;
            }
            let (ipos, phase) = self.position(self.next_out);
            let first = ipos - (self.half as i64 - 1);
            if first + self.taps as i64 > avail_end {
                break;
            }
            let start = (first - self.hist_start) as usize;
            let x = &self.hist[start..start + self.taps];
            let w = &self.table[phase * self.taps..(phase + 1) * self.taps];
            out.push(dot(x, w));
            self.next_out += 1;
        }
    }

    /// Drop input no future output needs.
    fn trim(&mut self) {
        let (ipos, _) = self.position(self.next_out);
        let keep_from = ipos - (self.half as i64 - 1);
        let drop = (keep_from - self.hist_start).clamp(0, self.hist.len() as i64) as usize;
        if drop > 0 {
            self.hist.drain(..drop);
            self.hist_start += drop as i64;
        }
    }
}

/// Dot product in `LANES` independent accumulators so the compiler can use SIMD.
fn dot(x: &[f32], w: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    for (xs, ws) in x.chunks_exact(LANES).zip(w.chunks_exact(LANES)) {
        for i in 0..LANES {
            acc[i] += xs[i] * ws[i];
        }
    }
    acc.iter().sum()
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(in_rate: u32, out_rate: u32, input: &[f32], packet: usize) -> Vec<f32> {
        let mut r = Resampler::new(in_rate, out_rate);
        let mut out = Vec::new();
        for chunk in input.chunks(packet) {
            r.process(chunk, &mut out);
        }
        r.flush(&mut out);
        out
    }

    fn sine(rate: u32, freq: f64, secs: f64) -> Vec<f32> {
        let n = (secs * f64::from(rate)) as usize;
        (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    #[test]
    fn output_length_is_exact() {
        for (a, b, n) in [
            (44_100, 16_000, 44_100),
            (48_000, 16_000, 1000),
            (8_000, 16_000, 777),
            (22_050, 16_000, 12_345),
            (44_056, 16_000, 5_000),
        ] {
            let out = run(a, b, &vec![0.1; n], 1000);
            let expect = (n as u64 * u64::from(b)).div_ceil(u64::from(a)) as usize;
            assert_eq!(out.len(), expect, "{a}->{b}");
        }
    }

    #[test]
    fn packet_size_does_not_change_output() {
        let input = sine(44_100, 440.0, 0.5);
        let a = run(44_100, 16_000, &input, 1152);
        let b = run(44_100, 16_000, &input, 37);
        let c = run(44_100, 16_000, &input, input.len());
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn passband_kept_and_alias_removed() {
        let rms = |v: &[f32]| {
            (v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        // 1 kHz passes at full level (0.5 peak -> 0.354 rms)...
        let out = run(44_100, 16_000, &sine(44_100, 1000.0, 1.0), 1024);
        let level = rms(&out[1000..15_000]);
        assert!((level - 0.3536).abs() < 0.01, "passband level {level}");
        // ...while 12 kHz (above the new 8 kHz Nyquist) would alias; it must be strongly attenuated.
        let out = run(44_100, 16_000, &sine(44_100, 12_000.0, 1.0), 1024);
        let level = rms(&out[1000..15_000]);
        assert!(level < 0.005, "alias level {level}");
    }

    #[test]
    fn upsampling_is_smooth() {
        let out = run(8_000, 16_000, &sine(8_000, 300.0, 0.5), 160);
        let expect = sine(16_000, 300.0, 0.5);
        let err = out[200..7800]
            .iter()
            .zip(&expect[200..7800])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(err < 0.01, "max error {err}");
    }
}
