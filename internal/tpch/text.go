package tpch

// Fixed text of the TPC-H specification (clause 4.2.2 and 4.2.3).

// Colours are the 92 words part names are made of (P_NAME is five distinct
// ones), so that Q09's `p_name like '%green%'` selects about 5/92 of parts.
var Colours = [...]string{
	"almond", "antique", "aquamarine", "azure", "beige", "bisque", "black", "blanched", "blue",
	"blush", "brown", "burlywood", "burnished", "chartreuse", "chiffon", "chocolate", "coral",
	"cornflower", "cornsilk", "cream", "cyan", "dark", "deep", "dim", "dodger", "drab", "firebrick",
	"floral", "forest", "frosted", "gainsboro", "ghost", "goldenrod", "green", "grey", "honeydew",
	"hot", "indian", "ivory", "khaki", "lace", "lavender", "lawn", "lemon", "light", "lime", "linen",
	"magenta", "maroon", "medium", "metallic", "midnight", "mint", "misty", "moccasin", "navajo",
	"navy", "olive", "orange", "orchid", "pale", "papaya", "peach", "peru", "pink", "plum", "powder",
	"puff", "purple", "red", "rose", "rosy", "royal", "saddle", "salmon", "sandy", "seashell",
	"sienna", "sky", "slate", "smoke", "snow", "spring", "steel", "tan", "thistle", "tomato",
	"turquoise", "violet", "wheat", "white", "yellow",
}

// Nation is one of the 25 fixed nations.
type Nation struct {
	Key    int
	Name   string
	Region int
}

// Nations are the NATION table, in key order.
var Nations = [25]Nation{
	{0, "ALGERIA", 0}, {1, "ARGENTINA", 1}, {2, "BRAZIL", 1}, {3, "CANADA", 1}, {4, "EGYPT", 4},
	{5, "ETHIOPIA", 0}, {6, "FRANCE", 3}, {7, "GERMANY", 3}, {8, "INDIA", 2}, {9, "INDONESIA", 2},
	{10, "IRAN", 4}, {11, "IRAQ", 4}, {12, "JAPAN", 2}, {13, "JORDAN", 4}, {14, "KENYA", 0},
	{15, "MOROCCO", 0}, {16, "MOZAMBIQUE", 0}, {17, "PERU", 1}, {18, "CHINA", 2}, {19, "ROMANIA", 3},
	{20, "SAUDI ARABIA", 4}, {21, "VIETNAM", 2}, {22, "RUSSIA", 3}, {23, "UNITED KINGDOM", 3},
	{24, "UNITED STATES", 1},
}

// Regions are the REGION table's names, in key order.
var Regions = [5]string{"AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"}

var (
	typeSyllable1      = [...]string{"STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"}
	typeSyllable2      = [...]string{"ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"}
	typeSyllable3      = [...]string{"TIN", "NICKEL", "BRASS", "STEEL", "COPPER"}
	containerSyllable1 = [...]string{"SM", "LG", "MED", "JUMBO", "WRAP"}
	containerSyllable2 = [...]string{"CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"}
	segments           = [...]string{"AUTOMOBILE", "BUILDING", "FURNITURE", "MACHINERY", "HOUSEHOLD"}
	priorities         = [...]string{"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"}
	instructions       = [...]string{"DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN"}
	shipModes          = [...]string{"REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"}
)

// words make up the comments: the vocabulary of the specification's text
// grammar (clause 4.2.2.10), not its grammar, so the texts read like dbgen's
// without being the same.
var words = [...]string{
	"furiously", "sly", "careful", "blithe", "quick", "fluffy", "slow", "quiet", "ruthless", "thin",
	"close", "dogged", "daring", "brave", "stealthy", "permanent", "enticing", "idle", "busy",
	"regular", "final", "ironic", "even", "bold", "silent", "foxes", "ideas", "theodolites",
	"pinto", "beans", "instructions", "dependencies", "excuses", "platelets", "asymptotes",
	"courts", "dolphins", "multipliers", "sauternes", "warthogs", "frets", "dinos", "attainments",
	"somas", "braids", "hockey", "players", "frays", "warhorses", "dugouts", "notornis", "epitaphs",
	"pearls", "tithes", "waters", "orbits", "gifts", "sheaves", "depths", "sentiments", "decoys",
	"realms", "pains", "grouches", "escapades", "packages", "requests", "accounts", "deposits",
	"sleep", "wake", "are", "cajole", "haggle", "nag", "use", "boost", "affix", "detect",
	"integrate", "maintain", "nod", "was", "lose", "sublate", "solve", "thrash", "promise",
	"engage", "hinder", "print", "x-ray", "breach", "eat", "grow", "impress", "mold", "poach",
	"serve", "run", "dazzle", "snooze", "doze", "unwind", "kindle", "play", "hang", "believe",
	"doubt", "about", "above", "according", "to", "across", "after", "against", "along",
	"alongside", "of", "among", "around", "at", "atop", "before", "behind", "beneath", "beside",
	"besides", "between", "beyond", "by", "despite", "during", "except", "for", "from", "in",
	"place", "inside", "instead", "into", "near", "on", "outside", "over", "past", "since",
	"through", "throughout", "toward", "under", "until", "up", "upon", "without", "with",
	"within", "quickly", "carefully", "slyly", "blithely", "fluffily", "slowly", "quietly",
	"ruthlessly", "thinly", "closely", "doggedly", "daringly", "bravely", "stealthily",
	"permanently", "enticingly", "idly", "busily", "regularly", "finally", "ironically",
	"evenly", "boldly", "silently", "special", "pending", "unusual", "express", "furious",
}
