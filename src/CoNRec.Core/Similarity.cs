using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CoNRec.Core;

/// <summary>
/// Max-cosine of n candidates against m predicted SIDs, all rows already unit-normalised (row-major, d columns).
/// The main loop is a 4×2 register-blocked dot-product kernel: each predicted chunk loaded once feeds four
/// candidates, which roughly halves loads compared with n·m separate dot products. Allocation-free.
/// </summary>
public static class Similarity
{
    public static void MaxCosine(ReadOnlySpan<float> candidates, ReadOnlySpan<float> predicted, int dimension,
                                 Span<float> bestScore, Span<int> bestIndex)
    {
        if (dimension <= 0) throw new ArgumentOutOfRangeException(nameof(dimension));
        if (candidates.Length % dimension != 0 || predicted.Length % dimension != 0)
            throw new ArgumentException("row buffers must be whole multiples of the dimension");
        int n = candidates.Length / dimension, m = predicted.Length / dimension;
        if (bestScore.Length < n || bestIndex.Length < n) throw new ArgumentException("output spans are shorter than the candidate count");

        bestScore[..n].Fill(float.NegativeInfinity);
        bestIndex[..n].Fill(-1);
        if (m == 0) return;

        int i = 0;
        if (Vector256.IsHardwareAccelerated && dimension % Vector256<float>.Count == 0)
        {
            ref float c0 = ref MemoryMarshal.GetReference(candidates);
            ref float p0 = ref MemoryMarshal.GetReference(predicted);
            for (; i + 4 <= n; i += 4) Block4(ref c0, ref p0, i, m, dimension, bestScore, bestIndex);
            // The tail uses the very same per-pair arithmetic (lane-wise FMA, then Vector256.Sum), so a candidate's score
            // is bit-identical whether it sits in a block of four or alone: equal inputs must give equal (tied) scores.
            for (; i < n; i++) Block1(ref c0, ref p0, i, m, dimension, bestScore, bestIndex);
            return;
        }
        for (; i < n; i++)
        {
            var row = candidates.Slice(i * dimension, dimension);
            for (int j = 0; j < m; j++)
            {
                float s = TensorPrimitives.Dot(row, predicted.Slice(j * dimension, dimension));
                if (s > bestScore[i]) { bestScore[i] = s; bestIndex[i] = j; }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4(ref float c, ref float p, int i, int m, int d, Span<float> best, Span<int> index)
    {
        nuint r0 = (nuint)(i * d), r1 = r0 + (nuint)d, r2 = r1 + (nuint)d, r3 = r2 + (nuint)d;
        float b0 = float.NegativeInfinity, b1 = b0, b2 = b0, b3 = b0;
        int i0 = -1, i1 = -1, i2 = -1, i3 = -1;
        int j = 0;
        for (; j + 2 <= m; j += 2)
        {
            nuint q0 = (nuint)(j * d), q1 = q0 + (nuint)d;
            Vector256<float> a00 = default, a10 = default, a20 = default, a30 = default;
            Vector256<float> a01 = default, a11 = default, a21 = default, a31 = default;
            for (nuint k = 0; k < (nuint)d; k += (nuint)Vector256<float>.Count)
            {
                var pa = Vector256.LoadUnsafe(ref p, q0 + k);
                var pb = Vector256.LoadUnsafe(ref p, q1 + k);
                var x0 = Vector256.LoadUnsafe(ref c, r0 + k);
                a00 = Vector256.FusedMultiplyAdd(x0, pa, a00); a01 = Vector256.FusedMultiplyAdd(x0, pb, a01);
                var x1 = Vector256.LoadUnsafe(ref c, r1 + k);
                a10 = Vector256.FusedMultiplyAdd(x1, pa, a10); a11 = Vector256.FusedMultiplyAdd(x1, pb, a11);
                var x2 = Vector256.LoadUnsafe(ref c, r2 + k);
                a20 = Vector256.FusedMultiplyAdd(x2, pa, a20); a21 = Vector256.FusedMultiplyAdd(x2, pb, a21);
                var x3 = Vector256.LoadUnsafe(ref c, r3 + k);
                a30 = Vector256.FusedMultiplyAdd(x3, pa, a30); a31 = Vector256.FusedMultiplyAdd(x3, pb, a31);
            }
            Take(Vector256.Sum(a00), j, ref b0, ref i0); Take(Vector256.Sum(a01), j + 1, ref b0, ref i0);
            Take(Vector256.Sum(a10), j, ref b1, ref i1); Take(Vector256.Sum(a11), j + 1, ref b1, ref i1);
            Take(Vector256.Sum(a20), j, ref b2, ref i2); Take(Vector256.Sum(a21), j + 1, ref b2, ref i2);
            Take(Vector256.Sum(a30), j, ref b3, ref i3); Take(Vector256.Sum(a31), j + 1, ref b3, ref i3);
        }
        if (j < m)
        {
            nuint q0 = (nuint)(j * d);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (nuint k = 0; k < (nuint)d; k += (nuint)Vector256<float>.Count)
            {
                var pa = Vector256.LoadUnsafe(ref p, q0 + k);
                a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref c, r0 + k), pa, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref c, r1 + k), pa, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref c, r2 + k), pa, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref c, r3 + k), pa, a3);
            }
            Take(Vector256.Sum(a0), j, ref b0, ref i0);
            Take(Vector256.Sum(a1), j, ref b1, ref i1);
            Take(Vector256.Sum(a2), j, ref b2, ref i2);
            Take(Vector256.Sum(a3), j, ref b3, ref i3);
        }
        best[i] = b0; best[i + 1] = b1; best[i + 2] = b2; best[i + 3] = b3;
        index[i] = i0; index[i + 1] = i1; index[i + 2] = i2; index[i + 3] = i3;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block1(ref float c, ref float p, int i, int m, int d, Span<float> best, Span<int> index)
    {
        nuint r0 = (nuint)(i * d);
        float b0 = float.NegativeInfinity;
        int i0 = -1;
        for (int j = 0; j < m; j++)
        {
            nuint q0 = (nuint)(j * d);
            Vector256<float> a0 = default;
            for (nuint k = 0; k < (nuint)d; k += (nuint)Vector256<float>.Count)
                a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref c, r0 + k), Vector256.LoadUnsafe(ref p, q0 + k), a0);
            Take(Vector256.Sum(a0), j, ref b0, ref i0);
        }
        best[i] = b0;
        index[i] = i0;
    }

    // Strictly greater: ties keep the lowest predicted index, same as the scalar path.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Take(float s, int j, ref float best, ref int index)
    {
        if (s > best) { best = s; index = j; }
    }
}
