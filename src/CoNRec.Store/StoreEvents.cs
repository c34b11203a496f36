namespace CoNRec.Store;

/// <summary>Messages on the events channel. Receivers treat them as hints and re-read state, so a lost one is harmless.</summary>
public static class StoreEvents
{
    public const string Active = "active";
    public const string Scenes = "scenes";
}
