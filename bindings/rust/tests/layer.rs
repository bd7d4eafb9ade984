//! The safe Layer as a Rust user would use it, checked against a float64 direct loop written
//! here from the formula in include/convt/convt.h (never from the library).

use convt::{DataFormat, Dtype, Layer, Layout, Padding, Param, Status};
use std::sync::Arc;
use std::thread;

/// A small deterministic generator (xorshift64*), so the test needs no crates.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.uniform()).collect()
    }
}

struct Case {
    filters: i64,
    kernel_size: i64,
    strides: i64,
    dilation: i64,
    groups: i64,
    padding: Padding,
    pads: (i64, i64),
    output_padding: Option<i64>,
    format: DataFormat,
    layout: Layout,
    use_bias: bool,
    batch: i64,
    steps: i64,
    in_channels: i64,
}

const BASE: Case = Case {
    filters: 1,
    kernel_size: 1,
    strides: 1,
    dilation: 1,
    groups: 1,
    padding: Padding::Valid,
    pads: (0, 0),
    output_padding: None,
    format: DataFormat::ChannelsLast,
    layout: Layout::Woi,
    use_bias: true,
    batch: 1,
    steps: 1,
    in_channels: 1,
};

impl Case {
    /// (batch, in_channels, filters, groups, kernel_size, steps)
    fn dims(&self) -> (i64, i64, i64, i64, i64, i64) {
        (
            self.batch,
            self.in_channels,
            self.filters,
            self.groups,
            self.kernel_size,
            self.steps,
        )
    }
}

/// (P_b, default out_steps) from the header's table of output lengths.
fn crop_and_length(c: &Case) -> (i64, i64) {
    let (s, l) = (c.strides, c.steps);
    let k_eff = c.dilation * (c.kernel_size - 1) + 1;
    let l_full = (l - 1) * s + k_eff;
    match (c.padding, c.output_padding) {
        (Padding::Valid, None) => (0, (l - 1) * s + k_eff.max(s)),
        (Padding::Valid, Some(op)) => (0, l_full + op),
        (Padding::Same, None) => ((l_full - l * s).max(0) / 2, l * s),
        (Padding::Same, Some(op)) => (
            ((k_eff - k_eff % 2 - op) / 2).max(0),
            (l - 1) * s + k_eff % 2 + op,
        ),
        (Padding::SameLower, None) => (((l_full - l * s).max(0) + 1) / 2, l * s),
        (Padding::SameLower, Some(op)) => {
            let t = (l_full + op - l * s).max(0);
            ((t + 1) / 2, l_full + op - t)
        }
        (Padding::Explicit, op) => (c.pads.0, l_full - c.pads.0 - c.pads.1 + op.unwrap_or(0)),
    }
}

/// y (N, F, out) and the sum of |terms| per element, from x (N, C, L) and w (C, F/G, K).
fn reference(
    c: &Case,
    x: &[f64],
    w: &[f64],
    bias: &[f64],
    p_b: i64,
    out: i64,
) -> (Vec<f64>, Vec<f64>) {
    let (n, ch, f, g, k, l) = c.dims();
    let (cpg, fpg) = (ch / g, f / g);
    let mut y = vec![0.0; (n * f * out) as usize];
    let mut mag = vec![0.0; y.len()];
    for b in 0..n {
        for o in 0..f {
            for j in 0..out {
                let mut acc = if c.use_bias { bias[o as usize] } else { 0.0 };
                let mut m = acc.abs();
                for t in 0..k {
                    let pos = j + p_b - t * c.dilation;
                    if pos < 0 || pos % c.strides != 0 || pos / c.strides >= l {
                        continue;
                    }
                    let i = pos / c.strides;
                    for cc in 0..cpg {
                        let ci = (o / fpg) * cpg + cc;
                        let term = x[((b * ch + ci) * l + i) as usize]
                            * w[((ci * fpg + o % fpg) * k + t) as usize];
                        acc += term;
                        m += term.abs();
                    }
                }
                y[((b * f + o) * out + j) as usize] = acc;
                mag[((b * f + o) * out + j) as usize] = m;
            }
        }
    }
    (y, mag)
}

/// (N, A, B) -> (N, B, A)
fn swap_last(v: &[f64], n: i64, a: i64, b: i64) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    for i in 0..n {
        for p in 0..a {
            for q in 0..b {
                out[((i * b + q) * a + p) as usize] = v[((i * a + p) * b + q) as usize];
            }
        }
    }
    out
}

/// W_woi[t][o][c'] = W_iow[(o / (F/G)) * (C/G) + c'][o % (F/G)][t]
fn woi_from_iow(w: &[f64], ch: i64, f: i64, g: i64, k: i64) -> Vec<f64> {
    let (cpg, fpg) = (ch / g, f / g);
    let mut out = vec![0.0; w.len()];
    for t in 0..k {
        for o in 0..f {
            for cc in 0..cpg {
                out[((t * f + o) * cpg + cc) as usize] =
                    w[((((o / fpg) * cpg + cc) * fpg + o % fpg) * k + t) as usize];
            }
        }
    }
    out
}

trait Real: convt::Element {
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    const UNIT_ROUNDOFF: f64;
}
impl Real for f32 {
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    const UNIT_ROUNDOFF: f64 = 5.960464477539063e-8; // 2^-24
}
impl Real for f64 {
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    const UNIT_ROUNDOFF: f64 = 1.1102230246251565e-16; // 2^-53
}

fn check_case<T: Real>(c: &Case, seed: u64) {
    let mut layer = Layer::new(c.filters, c.kernel_size).unwrap();
    layer
        .set_dtype(T::DTYPE)
        .unwrap()
        .set_strides(c.strides)
        .unwrap()
        .set_dilation_rate(c.dilation)
        .unwrap()
        .set_groups(c.groups)
        .unwrap()
        .set_output_padding(c.output_padding)
        .unwrap()
        .set_data_format(c.format)
        .unwrap()
        .set_use_bias(c.use_bias)
        .unwrap();
    if c.padding == Padding::Explicit {
        layer.set_pads(c.pads.0, c.pads.1).unwrap();
    } else {
        layer.set_padding(c.padding).unwrap();
    }
    let (p_b, out) = crop_and_length(c);
    assert_eq!(layer.output_steps(c.steps).unwrap(), out);

    let mut rng = Rng(seed);
    let (n, ch, f, g, k, l) = c.dims();
    let round =
        |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|e| T::from_f64(e).to_f64()).collect() };
    let x = round(rng.vec((n * ch * l) as usize));
    let w = round(rng.vec((ch * (f / g) * k) as usize));
    let bias = round(rng.vec(f as usize));
    let kernel = match c.layout {
        Layout::Iow => w.clone(),
        Layout::Woi => woi_from_iow(&w, ch, f, g, k),
    };
    let typed = |v: &[f64]| -> Vec<T> { v.iter().map(|&e| T::from_f64(e)).collect() };
    let bias_t = typed(&bias);
    layer
        .set_weights(
            ch,
            c.layout,
            &typed(&kernel),
            if c.use_bias { Some(&bias_t[..]) } else { None },
        )
        .unwrap();

    let x_in = match c.format {
        DataFormat::ChannelsFirst => x.clone(),
        DataFormat::ChannelsLast => swap_last(&x, n, ch, l),
    };
    let y = layer.forward(&typed(&x_in), n, l).unwrap();
    let y: Vec<f64> = y.into_iter().map(|v| v.to_f64()).collect();
    let y = match c.format {
        DataFormat::ChannelsFirst => y,
        DataFormat::ChannelsLast => swap_last(&y, n, out, f),
    };
    let (want, mag) = reference(c, &x, &w, &bias, p_b, out);
    assert_eq!(y.len(), want.len());
    let u = T::UNIT_ROUNDOFF;
    for i in 0..y.len() {
        let allowed = 2.0 * ((ch / g * k + 4) as f64) * u * mag[i] + 16.0 * u * want[i].abs();
        assert!(
            (y[i] - want[i]).abs() <= allowed,
            "element {}: got {} want {} (allowed {})",
            i,
            y[i],
            want[i],
            allowed
        );
    }
}

fn cases() -> Vec<Case> {
    vec![
        // Keras Conv1DTranspose(4, 3, strides=2, padding="same")
        Case {
            filters: 4,
            kernel_size: 3,
            strides: 2,
            padding: Padding::Same,
            batch: 2,
            steps: 7,
            in_channels: 3,
            ..BASE
        },
        // PyTorch ConvTranspose1d(4, 6, 5, stride=3, padding=2, output_padding=1, groups=2)
        Case {
            filters: 6,
            kernel_size: 5,
            strides: 3,
            groups: 2,
            padding: Padding::Explicit,
            pads: (2, 2),
            output_padding: Some(1),
            format: DataFormat::ChannelsFirst,
            layout: Layout::PYTORCH,
            steps: 9,
            in_channels: 4,
            ..BASE
        },
        // valid, dilated, no bias
        Case {
            filters: 3,
            kernel_size: 4,
            dilation: 3,
            use_bias: false,
            batch: 3,
            steps: 5,
            in_channels: 2,
            ..BASE
        },
        // ONNX SAME_LOWER with output_padding
        Case {
            filters: 2,
            kernel_size: 6,
            strides: 4,
            padding: Padding::SameLower,
            output_padding: Some(2),
            format: DataFormat::ChannelsFirst,
            batch: 2,
            steps: 6,
            in_channels: 3,
            ..BASE
        },
    ]
}

#[test]
fn forward_matches_the_float64_reference_in_f32_and_f64() {
    for (i, c) in cases().iter().enumerate() {
        check_case::<f32>(c, 100 + i as u64);
        check_case::<f64>(c, 200 + i as u64);
    }
}

#[test]
fn hand_computed_same_padding_example() {
    let mut layer = Layer::new(2, 3).unwrap();
    layer
        .set_strides(2)
        .unwrap()
        .set_padding(Padding::Same)
        .unwrap();
    layer
        .set_weights(
            1,
            Layout::KERAS,
            &[1.0f64, 10.0, 2.0, 20.0, 3.0, 30.0],
            Some(&[0.5, -0.5]),
        )
        .unwrap_err(); // a float32 layer refuses f64 weights ...
    layer.set_dtype(Dtype::Float64).unwrap();
    layer
        .set_weights(
            1,
            Layout::KERAS,
            &[1.0f64, 10.0, 2.0, 20.0, 3.0, 30.0],
            Some(&[0.5, -0.5]),
        )
        .unwrap(); // ... a float64 one takes them
    let y = layer.forward(&[1.0f64, 2.0, 3.0, 4.0], 1, 4).unwrap();
    // y[j] = sum of x[i] * W[t] over 2i + t = j, plus the bias.
    let want0 = [1.0, 2.0, 5.0, 4.0, 9.0, 6.0, 13.0, 8.0];
    for j in 0..8 {
        assert_eq!(y[2 * j], want0[j] + 0.5);
        assert_eq!(y[2 * j + 1], want0[j] * 10.0 - 0.5);
    }
}

#[test]
fn errors_carry_the_status_and_the_library_message() {
    let e = Layer::new(0, 3).unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
    assert!(e.message().contains("filters"), "{}", e);
    assert_eq!(
        e.to_string(),
        format!("CONVT_E_INVALID_ARGUMENT: {}", e.message())
    );

    let layer = Layer::new(2, 3).unwrap();
    let x = [0.0f32; 12];
    let e = layer.forward(&x, 1, 4).unwrap_err();
    assert_eq!(e.status(), Status::State);
    assert!(e.message().contains("convt_layer_forward_f32"), "{}", e);

    let mut layer = Layer::new(2, 3).unwrap();
    layer.init_weights(3, 1).unwrap();
    let e = layer.forward(&[0.0f32; 10], 2, 4).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
    assert!(e.message().contains("10"), "{}", e);
    // The output buffer is untouched by a failed call.
    let mut y = [7.0f32; 12];
    let e = layer.forward_into(&x, 1, 4, &mut y, 7).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
    assert!(y.iter().all(|&v| v == 7.0));

    let e = layer.set_activation("glu").unwrap_err();
    assert_eq!(e.status(), Status::Unsupported);
    assert!(e.message().contains("glu"));
    let e = layer.set_name("a\0b").unwrap_err();
    assert_eq!(e.status(), Status::InvalidArgument);
}

#[test]
fn weights_round_trip_in_both_layouts() {
    let (ch, f, g, k) = (4i64, 6i64, 2i64, 3i64);
    let mut layer = Layer::new(f, k).unwrap();
    layer
        .set_groups(g)
        .unwrap()
        .set_dtype(Dtype::Float64)
        .unwrap();
    let w = Rng(5).vec((ch * (f / g) * k) as usize);
    let bias: Vec<f64> = (0..f).map(|v| v as f64).collect();
    layer.set_weights(ch, Layout::Iow, &w, Some(&bias)).unwrap();
    assert_eq!(layer.in_channels().unwrap(), ch);
    let torch = layer.get_weights::<f64>(Layout::PYTORCH).unwrap();
    assert_eq!(torch.kernel, w);
    assert_eq!(torch.bias.as_deref(), Some(&bias[..]));
    let keras = layer.get_weights::<f64>(Layout::KERAS).unwrap();
    assert_eq!(keras.kernel, woi_from_iow(&w, ch, f, g, k));
    let e = layer.get_weights::<f32>(Layout::KERAS).unwrap_err();
    assert_eq!(e.status(), Status::State);
}

#[test]
fn set_pads_changes_nothing_on_error() {
    let mut layer = Layer::new(2, 5).unwrap();
    layer.set_pads(2, 1).unwrap();
    assert_eq!(layer.padding().unwrap(), Padding::Explicit);
    assert_eq!(layer.output_steps(4).unwrap(), 3 + 5 - 3);
    layer.set_padding(Padding::Same).unwrap();
    assert_eq!(
        layer.set_pads(7, -1).unwrap_err().status(),
        Status::InvalidArgument
    );
    assert_eq!(layer.padding().unwrap(), Padding::Same);
    assert_eq!(layer.get_int(Param::PadBegin).unwrap(), 2);
    assert_eq!(layer.get_int(Param::PadEnd).unwrap(), 1);
}

#[test]
fn strings_and_version_read_back() {
    let mut layer = Layer::new(2, 5).unwrap();
    layer
        .set_activation("swish")
        .unwrap()
        .set_name("up")
        .unwrap();
    assert_eq!(layer.activation().unwrap(), "silu");
    assert_eq!(layer.name().unwrap(), "up");
    assert!(layer.get_double(Param::ActivationAlpha).unwrap().is_nan());
    assert_eq!(convt::version(), "1.0.0");
    assert_eq!(convt::version_number(), 10000);
}

#[test]
fn threads_share_a_layer_and_read_their_own_messages() {
    let mut layer = Layer::new(8, 5).unwrap();
    layer
        .set_strides(2)
        .unwrap()
        .set_padding(Padding::Same)
        .unwrap();
    layer.init_weights(4, 9).unwrap();
    let layer = Arc::new(layer);
    let x: Vec<f32> = Rng(3)
        .vec(2 * 50 * 4)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let want = layer.forward(&x, 2, 50).unwrap();
    let handles: Vec<_> = (0..8)
        .map(|k| {
            let (layer, x) = (Arc::clone(&layer), x.clone());
            thread::spawn(move || {
                let y = layer.forward(&x, 2, 50).unwrap();
                // A failure of this thread's own: its numbers are in its message.
                let steps = 1000 + k;
                let e = layer.forward(&x, 2, steps).unwrap_err();
                assert!(e.message().contains(&(2 * steps * 4).to_string()), "{}", e);
                y
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn backward_is_the_adjoint_of_forward() {
    // Linear: <y - b, g> = <x, dL/dx> = <W, dL/dW>, and dL/db sums g over batch and steps.
    let (n, ch, f, g, k, l) = (2i64, 4i64, 6i64, 2i64, 5i64, 9i64);
    let mut layer = Layer::new(f, k).unwrap();
    layer
        .set_dtype(Dtype::Float64)
        .unwrap()
        .set_groups(g)
        .unwrap()
        .set_strides(3)
        .unwrap()
        .set_pads(2, 1)
        .unwrap()
        .set_data_format(DataFormat::ChannelsFirst)
        .unwrap();
    let mut rng = Rng(17);
    let w = rng.vec((k * f * (ch / g)) as usize);
    let b = rng.vec(f as usize);
    layer.set_weights(ch, Layout::Woi, &w, Some(&b)).unwrap();
    let x = rng.vec((n * ch * l) as usize);
    let out = layer.output_steps(l).unwrap();
    let y = layer.forward(&x, n, l).unwrap();
    let go = rng.vec((n * f * out) as usize);
    let grads = layer.backward(&x, n, l, &go, out, Layout::Woi).unwrap();
    let y_no_bias: Vec<f64> = y
        .iter()
        .enumerate()
        .map(|(i, v)| v - b[(i as i64 / out % f) as usize])
        .collect();
    let want = dot(&y_no_bias, &go);
    let close = |a: f64| (a - want).abs() <= 1e-10 * want.abs().max(1.0);
    assert!(close(dot(&x, &grads.input)));
    assert!(close(dot(&w, grads.kernel.as_ref().unwrap())));
    let gb = grads.bias.unwrap();
    for o in 0..f {
        let sum: f64 = (0..n)
            .flat_map(|bi| (0..out).map(move |j| (bi, j)))
            .map(|(bi, j)| go[((bi * f + o) * out + j) as usize])
            .sum();
        assert!((gb[o as usize] - sum).abs() <= 1e-10 * sum.abs().max(1.0));
    }
    layer.set_int(Param::Trainable, 0).unwrap();
    let frozen = layer.backward(&x, n, l, &go, out, Layout::Woi).unwrap();
    assert!(frozen.kernel.is_none() && frozen.bias.is_none());
    assert_eq!(frozen.input, grads.input);
    let e = layer.backward(&x, n, l, &x, out, Layout::Woi).unwrap_err();
    assert_eq!(e.status(), Status::Shape);
}

#[test]
fn penalties_and_constraints_follow_the_formulas() {
    let mut layer = Layer::new(3, 2).unwrap();
    layer
        .set_dtype(Dtype::Float64)
        .unwrap()
        .set_int(Param::KernelRegularizer, convt::Regularizer::L2 as i64)
        .unwrap()
        .set_double(Param::KernelRegularizerL2, 0.5)
        .unwrap()
        .set_string(Param::ActivityRegularizer, "l1")
        .unwrap()
        .set_int(Param::KernelConstraint, convt::Constraint::NonNeg as i64)
        .unwrap();
    let w = [1.0, -2.0, 3.0, -4.0, 5.0, -6.0];
    layer
        .set_weights(1, Layout::Woi, &w, Some(&[0.0, 0.0, 0.0]))
        .unwrap();
    let loss = layer.regularization_loss().unwrap();
    assert!((loss - 0.5 * 91.0).abs() < 1e-12, "{}", loss);
    let y = [1.0f64, -1.0, 2.0, -2.0, 3.0, -3.0];
    let penalty = layer.activity_regularization(&y, 2, 1).unwrap();
    assert!((penalty - 0.01 * 12.0 / 2.0).abs() < 1e-15, "{}", penalty);
    assert!(
        layer
            .workspace_size(1, 4, layer.output_steps(4).unwrap())
            .unwrap()
            >= 0
    );
    layer.apply_constraints().unwrap();
    let kept = layer.get_weights::<f64>(Layout::Woi).unwrap().kernel;
    assert_eq!(kept, vec![1.0, 0.0, 3.0, 0.0, 5.0, 0.0]);
}

#[test]
fn stream_chunks_concatenate_to_the_whole_output() {
    let (n, ch, f, k, l) = (2i64, 3i64, 2i64, 5i64, 23i64);
    let mut layer = Layer::new(f, k).unwrap();
    layer
        .set_strides(2)
        .unwrap()
        .set_padding(Padding::Same)
        .unwrap()
        .set_data_format(DataFormat::ChannelsFirst)
        .unwrap();
    // Small integers: every sum is exact in f32, so chunked and whole agree bitwise.
    let mut rng = Rng(29);
    let mut ints = |count: i64| -> Vec<f32> {
        (0..count)
            .map(|_| (rng.uniform() * 3.0).round() as f32)
            .collect()
    };
    let w = ints(k * f * ch);
    let b = ints(f);
    let x = ints(n * ch * l);
    layer.set_weights(ch, Layout::Woi, &w, Some(&b)).unwrap();
    let whole = layer.forward(&x, n, l).unwrap();
    let out = layer.output_steps(l).unwrap();

    let mut stream = layer.stream(n).unwrap();
    let mut rows: Vec<Vec<f32>> = vec![Vec::new(); (n * f) as usize]; // (item, filter) rows
    let mut take = |chunk: Vec<f32>| {
        let steps = chunk.len() / (n * f) as usize;
        for (r, row) in rows.iter_mut().enumerate() {
            row.extend_from_slice(&chunk[r * steps..(r + 1) * steps]);
        }
    };
    let mut done = 0i64;
    for steps in [1i64, 4, 0, 7, 11] {
        let mut chunk = Vec::new(); // (n, ch, steps) cut from x
        for i in 0..n * ch {
            chunk.extend_from_slice(&x[(i * l + done) as usize..(i * l + done + steps) as usize]);
        }
        take(stream.push(&chunk, steps).unwrap());
        done += steps;
    }
    take(stream.flush::<f32>().unwrap());
    let streamed: Vec<f32> = rows.concat();
    assert_eq!(streamed.len(), (n * f * out) as usize);
    assert_eq!(streamed, whole);
    assert_eq!(stream.max_output_steps(0).unwrap(), 0);
    let e = stream
        .push(&vec![0.0f64; (n * ch) as usize], 1)
        .unwrap_err();
    assert_eq!(e.status(), Status::State);
    stream.reset().unwrap();
    drop(stream);

    let empty = Layer::new(2, 3).unwrap();
    assert_eq!(empty.stream(1).unwrap_err().status(), Status::State);
}
