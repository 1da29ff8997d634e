package dev.fluxion.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.einsum: subscripts a-z and A-Z, "..." for broadcast dims, an explicit "->output" or the implicit
 * one (the labels seen once, sorted, after the ellipsis dims). Written with recorded ops: repeated labels
 * in one operand take a diagonal, labels no one else needs are summed out, and operands are contracted
 * left to right, each pair as one batched matmul [batch, left, contracted] @ [batch, contracted, right].
 */
final class Einsum {
    private Einsum() {}

    /** An operand during contraction: its tensor and one label per dim. */
    private record Term(Tensor t, List<Character> labels) {}

    static Tensor einsum(String equation, Tensor... operands) {
        String eq = equation.replace(" ", "");
        int arrow = eq.indexOf("->");
        String lhs = arrow < 0 ? eq : eq.substring(0, arrow);
        String[] specs = lhs.split(",", -1);
        if (specs.length != operands.length)
            throw new IllegalArgumentException("einsum: equation '" + equation + "' names " + specs.length + " operands, got " + operands.length + " tensors");
        int ellipsisDims = 0;
        for (int i = 0; i < specs.length; i++)
            if (specs[i].contains("...")) ellipsisDims = Math.max(ellipsisDims, operands[i].dim() - (specs[i].length() - 3));
        List<Term> terms = new ArrayList<>();
        Map<Character, Integer> uses = new LinkedHashMap<>();
        for (int i = 0; i < specs.length; i++) {
            List<Character> labels = labels(equation, specs[i], operands[i].dim(), ellipsisDims, "operand " + i);
            if (labels.size() != operands[i].dim())
                throw new IllegalArgumentException("einsum: operand " + i + " has " + operands[i].dim() + " dims " + Shape.str(operands[i].shape())
                        + " but its subscripts '" + specs[i] + "' name " + labels.size());
            for (char c : labels) uses.merge(c, 1, Integer::sum);
            terms.add(new Term(operands[i], labels));
        }
        List<Character> out;
        if (arrow >= 0) {
            out = labels(equation, eq.substring(arrow + 2), -1, ellipsisDims, "output");
            for (char c : out) {
                if (!uses.containsKey(c)) throw new IllegalArgumentException("einsum: output label '" + c + "' of '" + equation + "' appears in no operand");
                if (out.indexOf(c) != out.lastIndexOf(c)) throw new IllegalArgumentException("einsum: output label '" + c + "' repeats in '" + equation + "'");
            }
        } else {
            out = new ArrayList<>();
            for (int k = 0; k < ellipsisDims; k++) out.add(ellipsisLabel(k));
            List<Character> once = new ArrayList<>();
            uses.forEach((c, n) -> { if (n == 1 && c < 0x100) once.add(c); });
            once.sort(null);
            out.addAll(once);
        }
        Map<Character, Integer> sizes = sizes(equation, terms);
        for (int i = 0; i < terms.size(); i++) terms.set(i, prepare(terms.get(i), sizes));
        Term acc = terms.get(0);
        for (int i = 1; i < terms.size(); i++) {
            List<Character> needed = new ArrayList<>(out);
            for (int j = i + 1; j < terms.size(); j++) needed.addAll(terms.get(j).labels());
            acc = contract(sumOut(acc, needed, terms.get(i).labels()), sumOut(terms.get(i), needed, acc.labels()), needed);
        }
        acc = sumOut(acc, out, List.of());
        int[] order = new int[out.size()];
        for (int k = 0; k < order.length; k++) order[k] = acc.labels().indexOf(out.get(k));
        return acc.t().permute(order);
    }

    private static char ellipsisLabel(int k) { return (char) (0x100 + k); }

    /** The labels of one subscript string; "..." becomes the last dims of the ellipsis labels. */
    private static List<Character> labels(String equation, String spec, int rank, int ellipsisDims, String what) {
        List<Character> out = new ArrayList<>();
        int dots = spec.indexOf("...");
        if (dots >= 0 && spec.indexOf("...", dots + 1) >= 0)
            throw new IllegalArgumentException("einsum: " + what + " of '" + equation + "' has more than one '...'");
        for (int i = 0; i < spec.length(); i++) {
            char c = spec.charAt(i);
            if (i == dots) {
                int n = rank < 0 ? ellipsisDims : rank - (spec.length() - 3);
                if (n < 0) throw new IllegalArgumentException("einsum: " + what + " of '" + equation + "' has fewer dims than subscripts");
                for (int k = ellipsisDims - n; k < ellipsisDims; k++) out.add(ellipsisLabel(k));
                i += 2;
            } else if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
                out.add(c);
            } else {
                throw new IllegalArgumentException("einsum: invalid subscript '" + c + "' in '" + equation + "'; use letters a-z, A-Z and '...'");
            }
        }
        return out;
    }

    /** Each label's size; sizes of one label must agree, except 1, which broadcasts. */
    private static Map<Character, Integer> sizes(String equation, List<Term> terms) {
        Map<Character, Integer> sizes = new LinkedHashMap<>();
        for (Term term : terms) {
            int[] sh = term.t().shape();
            for (int d = 0; d < sh.length; d++) {
                char c = term.labels().get(d);
                Integer prev = sizes.get(c);
                if (prev == null || prev == 1) sizes.put(c, sh[d]);
                else if (sh[d] != prev && sh[d] != 1)
                    throw new IllegalArgumentException("einsum: label '" + (c < 0x100 ? String.valueOf(c) : "...") + "' of '" + equation
                            + "' has size " + prev + " in one operand and " + sh[d] + " in another");
            }
        }
        return sizes;
    }

    /** Takes the diagonal for labels repeated within the term, and broadcasts size-1 dims to the label's size. */
    private static Term prepare(Term term, Map<Character, Integer> sizes) {
        Tensor t = term.t();
        List<Character> labels = new ArrayList<>(term.labels());
        for (boolean again = true; again; ) {
            again = false;
            for (int i = 0; i < labels.size() && !again; i++) {
                int j = labels.subList(i + 1, labels.size()).indexOf(labels.get(i));
                if (j < 0) continue;
                j += i + 1;
                char c = labels.get(i);
                t = t.diagonal(0, i, j);
                labels.remove(j);
                labels.remove(i);
                labels.add(c);
                again = true;
            }
        }
        int[] target = new int[labels.size()];
        for (int d = 0; d < target.length; d++) target[d] = sizes.get(labels.get(d));
        if (!Arrays.equals(target, t.shape())) t = t.expand(target);
        return new Term(t, labels);
    }

    /** Sums out the labels of term that neither keep nor other has. */
    private static Term sumOut(Term term, List<Character> keep, List<Character> other) {
        List<Integer> dims = new ArrayList<>();
        List<Character> left = new ArrayList<>();
        for (int d = 0; d < term.labels().size(); d++) {
            char c = term.labels().get(d);
            if (keep.contains(c) || other.contains(c)) left.add(c);
            else dims.add(d);
        }
        if (dims.isEmpty()) return term;
        return new Term(term.t().sum(dims.stream().mapToInt(Integer::intValue).toArray(), false), left);
    }

    /** a and b as one batched matmul over their shared labels; the result's labels are batch, a-only, b-only. */
    private static Term contract(Term a, Term b, List<Character> needed) {
        List<Character> batch = new ArrayList<>(), sum = new ArrayList<>(), left = new ArrayList<>(), right = new ArrayList<>();
        for (char c : a.labels()) {
            if (!b.labels().contains(c)) left.add(c);
            else if (needed.contains(c)) batch.add(c);
            else sum.add(c);
        }
        for (char c : b.labels()) if (!a.labels().contains(c)) right.add(c);
        Tensor ta = arrange(a, batch, left, sum), tb = arrange(b, batch, sum, right);
        int nb = size(a, batch), nl = size(a, left), ns = size(a, sum), nr = size(b, right);
        Tensor prod = ta.reshape(nb, nl, ns).matmul(tb.reshape(nb, ns, nr));
        List<Character> labels = new ArrayList<>(batch);
        labels.addAll(left);
        labels.addAll(right);
        int[] shape = new int[labels.size()];
        for (int d = 0; d < shape.length; d++) {
            char c = labels.get(d);
            int at = a.labels().indexOf(c);
            shape[d] = at >= 0 ? a.t().shape()[at] : b.t().shape()[b.labels().indexOf(c)];
        }
        return new Term(prod.reshape(shape), labels);
    }

    private static Tensor arrange(Term term, List<Character> first, List<Character> second, List<Character> third) {
        int[] order = new int[term.labels().size()];
        int k = 0;
        for (List<Character> group : List.of(first, second, third)) for (char c : group) order[k++] = term.labels().indexOf(c);
        return term.t().permute(order);
    }

    private static int size(Term term, List<Character> labels) {
        long n = 1;
        for (char c : labels) n *= term.t().shape()[term.labels().indexOf(c)];
        return Shape.dimSize("einsum", n);
    }
}
