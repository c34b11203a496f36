namespace CoNRec.Model.Training;

/// <summary>A rendered alignment example: the candidates' SID token ids in prompt order and which one is the negative.</summary>
internal sealed record AlignmentQuestion(int[][] Candidates, int NegativeIndex);
