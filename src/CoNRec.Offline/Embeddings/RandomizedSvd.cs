namespace CoNRec.Offline.Embeddings;

/// <summary>
/// Truncated SVD of a sparse matrix by randomized subspace iteration (Halko, Martinsson and Tropp 2011):
/// a Gaussian start with a fixed seed, power iterations with re-orthonormalisation, then an exact eigen-decomposition
/// of the small projected Gram matrix. Returns the left factors U·Σ^½ (rows × k), with each column's sign fixed so
/// that its largest-magnitude entry is positive (an SVD is only unique up to sign).
/// </summary>
internal static class RandomizedSvd
{
    /// <summary>A sparse rows × cols matrix in compressed-row form.</summary>
    public sealed record Sparse(int Rows, int Cols, int[] RowStart, int[] ColIndex, double[] Values);

    public static double[,] LeftFactors(Sparse a, int k, int oversampling, int powerIterations, int seed)
    {
        var result = new double[a.Rows, k];
        int l = Math.Min(k + oversampling, Math.Min(a.Rows, a.Cols));
        if (k == 0 || l == 0 || a.Values.Length == 0) return result;

        var rng = new Random(seed);
        var omega = new double[a.Cols, l];
        for (int i = 0; i < a.Cols; i++)
            for (int j = 0; j < l; j++) omega[i, j] = Gaussian(rng);

        var q = Multiply(a, omega);
        Orthonormalise(q);
        for (int it = 0; it < powerIterations; it++)
        {
            var z = MultiplyTransposed(a, q);
            Orthonormalise(z);
            q = Multiply(a, z);
            Orthonormalise(q);
        }

        // Q^T A A^T Q = Z^T Z with Z = A^T Q; its eigenpairs give B = Q^T A's singular values² and left vectors.
        var zFinal = MultiplyTransposed(a, q);
        var gram = new double[l, l];
        for (int i = 0; i < l; i++)
            for (int j = i; j < l; j++)
            {
                double s = 0;
                for (int r = 0; r < a.Cols; r++) s += zFinal[r, i] * zFinal[r, j];
                gram[i, j] = gram[j, i] = s;
            }
        var (eigenvalues, eigenvectors) = JacobiEigen(gram);
        var order = Enumerable.Range(0, l).OrderByDescending(i => eigenvalues[i]).ThenBy(i => i).ToArray();

        for (int c = 0; c < Math.Min(k, l); c++)
        {
            int e = order[c];
            double sigma = Math.Sqrt(Math.Max(eigenvalues[e], 0));
            if (sigma <= 1e-12) continue;
            double scale = Math.Sqrt(sigma), largest = 0;
            var column = new double[a.Rows];
            for (int r = 0; r < a.Rows; r++)
            {
                double s = 0;
                for (int j = 0; j < l; j++) s += q[r, j] * eigenvectors[j, e];
                column[r] = s;
                if (Math.Abs(s) > Math.Abs(largest)) largest = s;
            }
            double sign = largest < 0 ? -1 : 1;
            for (int r = 0; r < a.Rows; r++) result[r, c] = sign * scale * column[r];
        }
        return result;
    }

    private static double[,] Multiply(Sparse a, double[,] x)
    {
        int l = x.GetLength(1);
        var y = new double[a.Rows, l];
        for (int r = 0; r < a.Rows; r++)
            for (int p = a.RowStart[r]; p < a.RowStart[r + 1]; p++)
            {
                int c = a.ColIndex[p];
                double v = a.Values[p];
                for (int j = 0; j < l; j++) y[r, j] += v * x[c, j];
            }
        return y;
    }

    private static double[,] MultiplyTransposed(Sparse a, double[,] x)
    {
        int l = x.GetLength(1);
        var y = new double[a.Cols, l];
        for (int r = 0; r < a.Rows; r++)
            for (int p = a.RowStart[r]; p < a.RowStart[r + 1]; p++)
            {
                int c = a.ColIndex[p];
                double v = a.Values[p];
                for (int j = 0; j < l; j++) y[c, j] += v * x[r, j];
            }
        return y;
    }

    /// <summary>Modified Gram–Schmidt, two passes for numerical safety; a column that is (numerically) dependent becomes zero.</summary>
    private static void Orthonormalise(double[,] m)
    {
        int rows = m.GetLength(0), cols = m.GetLength(1);
        for (int j = 0; j < cols; j++)
        {
            double original = Norm(m, j);
            for (int pass = 0; pass < 2; pass++)
                for (int i = 0; i < j; i++)
                {
                    double dot = 0;
                    for (int r = 0; r < rows; r++) dot += m[r, i] * m[r, j];
                    for (int r = 0; r < rows; r++) m[r, j] -= dot * m[r, i];
                }
            double norm = Norm(m, j);
            double inv = norm > 1e-10 * Math.Max(original, 1e-300) && norm > 1e-300 ? 1 / norm : 0;
            for (int r = 0; r < rows; r++) m[r, j] *= inv;
        }
    }

    private static double Norm(double[,] m, int j)
    {
        double s = 0;
        for (int r = 0; r < m.GetLength(0); r++) s += m[r, j] * m[r, j];
        return Math.Sqrt(s);
    }

    /// <summary>Cyclic Jacobi rotations for a small symmetric matrix: eigenvalues and eigenvectors (as columns).</summary>
    internal static (double[] Values, double[,] Vectors) JacobiEigen(double[,] input)
    {
        int n = input.GetLength(0);
        var a = (double[,])input.Clone();
        var v = new double[n, n];
        for (int i = 0; i < n; i++) v[i, i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, total = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    total += a[i, j] * a[i, j];
                    if (i != j) off += a[i, j] * a[i, j];
                }
            if (off <= 1e-24 * total || off == 0) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++)
                {
                    if (a[p, q] == 0) continue;
                    double theta = (a[q, q] - a[p, p]) / (2 * a[p, q]);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        double akp = a[k, p], akq = a[k, q];
                        a[k, p] = c * akp - s * akq;
                        a[k, q] = s * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double apk = a[p, k], aqk = a[q, k];
                        a[p, k] = c * apk - s * aqk;
                        a[q, k] = s * apk + c * aqk;
                    }
                    for (int k = 0; k < n; k++)
                    {
                        double vkp = v[k, p], vkq = v[k, q];
                        v[k, p] = c * vkp - s * vkq;
                        v[k, q] = s * vkp + c * vkq;
                    }
                }
        }
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = a[i, i];
        return (values, v);
    }

    private static double Gaussian(Random rng)
    {
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
