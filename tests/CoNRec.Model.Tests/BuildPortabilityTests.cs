namespace CoNRec.Model.Tests;
public class BuildPortabilityTests { }
