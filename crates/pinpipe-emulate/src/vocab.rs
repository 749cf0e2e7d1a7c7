//! Word lists the synthetic records are made of. Names and countries are sorted: persons pick
//! from them by a skewed quantile, so early (A…) entries are the common ones, as in the real
//! source.

/// One of the 13 categories, with the subjects its pins are about.
pub(crate) struct Category {
    pub(crate) name: &'static str,
    pub(crate) topics: &'static [&'static str],
}

/// The 13 categories of docs/SPEC.md §1, in key order.
#[rustfmt::skip]
pub(crate) const CATEGORIES: [Category; 13] = [
    Category {
        name: "art",
        topics: &[
            "Pencil Drawing", "Watercolor Painting", "Acrylic Painting", "Abstract Art",
            "Canvas Art", "Sketchbook Ideas", "Portrait Drawing", "Art Journal", "Oil Painting",
            "Doodle Art", "Mandala Art",
        ],
    },
    Category {
        name: "beauty",
        topics: &[
            "Skin Care Routine", "Natural Makeup", "Eye Makeup", "Nail Art", "Hair Care",
            "Braided Hairstyles", "Face Masks", "Lip Colour", "Curly Hair", "Eyebrow Shaping",
            "Glowing Skin",
        ],
    },
    Category {
        name: "christmas",
        topics: &[
            "Christmas Decorations", "Christmas Cookies", "Christmas Tree Ideas", "Holiday Wreaths",
            "Advent Calendars", "Christmas Crafts", "Gingerbread Houses", "Stocking Stuffers",
            "Christmas Lights", "Holiday Table Settings", "Handmade Ornaments",
        ],
    },
    Category {
        name: "diy-and-crafts",
        topics: &[
            "Paper Crafts", "Resin Art", "Macrame Wall Hanging", "Upcycled Furniture",
            "Mason Jar Crafts", "Crochet Patterns", "Sewing Projects", "Kids Crafts",
            "Candle Making", "Wood Projects", "Cricut Projects",
        ],
    },
    Category {
        name: "education",
        topics: &[
            "Classroom Management", "Math Games", "Reading Comprehension", "Science Experiments",
            "Homeschool Curriculum", "Teacher Resources", "Phonics Activities", "Study Tips",
            "Special Education", "Writing Prompts", "Bulletin Boards",
        ],
    },
    Category {
        name: "event-planning",
        topics: &[
            "Wedding Planning", "Birthday Party Ideas", "Baby Shower Games", "Party Decorations",
            "Event Checklists", "Bridal Showers", "Table Centerpieces", "Party Favors",
            "Wedding Budgets", "Corporate Events", "Graduation Parties",
        ],
    },
    Category {
        name: "finance",
        topics: &[
            "Saving Money", "Budget Planners", "Debt Payoff", "Side Hustle Ideas",
            "Stock Market Investing", "Passive Income", "Money Saving Challenges", "Frugal Living",
            "Retirement Planning", "Credit Score Tips", "Personal Finance",
        ],
    },
    Category {
        name: "home-decor",
        topics: &[
            "Living Room Decor", "Farmhouse Kitchens", "Bedroom Ideas", "Boho Decor",
            "Small Apartment Ideas", "Bathroom Makeovers", "Gallery Walls", "Reading Nooks",
            "Scandinavian Interiors", "Entryway Ideas", "Indoor Plants",
        ],
    },
    Category {
        name: "mens-fashion",
        topics: &[
            "Mens Casual Outfits", "Street Style", "Mens Suits", "Minimalist Wardrobe",
            "Leather Jackets", "Mens Sneakers", "Business Casual", "Mens Watches", "Summer Outfits",
            "Mens Hairstyles", "Denim Jackets",
        ],
    },
    Category {
        name: "quotes",
        topics: &[
            "Inspirational Quotes", "Life Quotes", "Motivational Quotes", "Love Quotes",
            "Funny Quotes", "Self Love Quotes", "Friendship Quotes", "Positive Affirmations",
            "Deep Quotes", "Relationship Quotes", "Sarcastic Quotes",
        ],
    },
    Category {
        name: "tattoos",
        topics: &[
            "Finger Tattoos", "Small Tattoos", "Sleeve Tattoos", "Floral Tattoos",
            "Minimalist Tattoos", "Wrist Tattoos", "Back Tattoos", "Script Tattoos",
            "Geometric Tattoos", "Matching Tattoos", "Fine Line Tattoos",
        ],
    },
    Category {
        name: "travel",
        topics: &[
            "Travel Destinations", "Road Trip Ideas", "Packing Lists", "Beach Vacations",
            "Travel Photography", "Backpacking Europe", "Budget Travel", "National Parks",
            "Hidden Gems", "Travel Hacks", "Island Hopping",
        ],
    },
    Category {
        name: "vehicles",
        topics: &[
            "Classic Cars", "Custom Trucks", "Sports Cars", "Motorcycles", "Jeep Wrangler",
            "Camper Van Conversions", "Car Design", "Off Road Vehicles", "Muscle Cars",
            "Electric Cars", "Vintage Trucks",
        ],
    },
];

/// Adjectives for titles, tags and poster names.
#[rustfmt::skip]
pub(crate) const ADJECTIVES: &[&str] = &[
    "Amazing", "Beautiful", "Best", "Bohème", "Bright", "Clever", "Cozy", "Creative", "Cute",
    "Easy", "Elegant", "Golden", "Happy", "Little", "Mindful", "Modern", "Petite", "Rustic",
    "Savvy", "Simple", "Stunning", "Urban", "Vintage", "Wild",
];
/// Nouns for poster (brand) names.
#[rustfmt::skip]
pub(crate) const BRAND_NOUNS: &[&str] = &[
    "Atelier", "Blog", "Café", "Co", "Collective", "Corner", "Diaries", "House", "Journal",
    "Kitchen", "Lab", "Life", "Maison", "Market", "Nest", "Panda", "Society", "Studio", "Workshop",
];
/// Who a title addresses.
#[rustfmt::skip]
pub(crate) const AUDIENCES: &[&str] = &[
    "Beginners", "Busy Moms", "Kids", "Teens", "Small Spaces", "Everyone", "Teachers", "Couples",
    "Students",
];
/// Words put before a topic to make a tag.
#[rustfmt::skip]
pub(crate) const TAG_PREFIXES: &[&str] = &[
    "Diy", "Easy", "Best", "Modern", "Simple", "Cute", "Vintage", "Aesthetic",
];
/// Words put after a topic to make a tag.
#[rustfmt::skip]
pub(crate) const TAG_SUFFIXES: &[&str] = &[
    "Ideas", "Inspiration", "For Beginners", "Tips", "Tutorials", "Projects",
];
/// Emoji some titles end with.
#[rustfmt::skip]
pub(crate) const EMOJI: &[&str] = &["✨", "🍂", "💕", "🎄", "🔥", "🌿"];

/// First names, sorted.
#[rustfmt::skip]
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Aaron", "Abigail", "Adam", "Adrian", "Alan", "Albert", "Alejandra", "Alex", "Alexander",
    "Alexandra", "Alexis", "Alice", "Alicia", "Allison", "Amanda", "Amber", "Amy", "Andrea",
    "Andrew", "Angela", "Anna", "Anthony", "Ashley", "Austin", "Bailey", "Barbara", "Benjamin",
    "Beth", "Betty", "Bonnie", "Bradley", "Brandon", "Brenda", "Brett", "Brian", "Brittany",
    "Bruce", "Bryan", "Caleb", "Carl", "Carlos", "Carol", "Caroline", "Catherine", "Cathy",
    "Charles", "Cheryl", "Christian", "Christina", "Christine", "Christopher", "Cindy", "Claire",
    "Cody", "Connie", "Courtney", "Craig", "Cynthia", "Daniel", "Danielle", "David", "Dawn",
    "Deborah", "Denise", "Dennis", "Derek", "Diana", "Diane", "Donald", "Donna", "Dorothy",
    "Douglas", "Dylan", "Edward", "Elaine", "Elizabeth", "Emily", "Emma", "Eric", "Erica", "Erin",
    "Ethan", "Evelyn", "Frank", "Gabriel", "Gary", "George", "Gloria", "Grace", "Gregory", "Hannah",
    "Harold", "Heather", "Helen", "Henry", "Holly", "Isabel", "Jack", "Jacob", "Jacqueline",
    "James", "Jamie", "Janet", "Jason", "Jeffrey", "Jennifer", "Jeremy", "Jessica", "Joanna", "Joe",
    "John", "Jonathan", "Jordan", "Jose", "Joseph", "Joshua", "Joyce", "Juan", "Judith", "Julia",
    "Julie", "Justin", "Karen", "Katherine", "Kathleen", "Kathy", "Kayla", "Keith", "Kelly",
    "Kenneth", "Kevin", "Kimberly", "Kyle", "Larry", "Laura", "Lauren", "Leah", "Linda", "Lisa",
    "Logan", "Lori", "Louis", "Lucas", "Luis", "Madison", "Marcus", "Margaret", "Maria", "Marie",
    "Mark", "Martha", "Mary", "Matthew", "Megan", "Melissa", "Michael", "Michelle", "Mike",
    "Monica", "Nancy", "Natalie", "Nathan", "Nicholas", "Nicole", "Noah", "Olivia", "Pamela",
    "Patricia", "Patrick", "Paul", "Peter", "Philip", "Rachel", "Randy", "Raymond", "Rebecca",
    "Richard", "Robert", "Roger", "Ronald", "Rose", "Russell", "Ruth", "Ryan", "Samantha", "Samuel",
    "Sandra", "Sara", "Sarah", "Scott", "Sean", "Shannon", "Sharon", "Shawn", "Stephanie",
    "Stephen", "Steven", "Susan", "Tammy", "Taylor", "Teresa", "Terry", "Thomas", "Tiffany",
    "Timothy", "Tina", "Todd", "Tommy", "Tracy", "Tyler", "Valerie", "Vanessa", "Victoria",
    "Vincent", "Walter", "Wayne", "William", "Zachary",
];

/// Last names, sorted.
#[rustfmt::skip]
pub(crate) const LAST_NAMES: &[&str] = &[
    "Abbott", "Acevedo", "Acosta", "Adams", "Aguilar", "Alexander", "Ali", "Allen", "Allison",
    "Alvarado", "Alvarez", "Anderson", "Andrews", "Armstrong", "Arnold", "Austin", "Bailey",
    "Baker", "Baldwin", "Banks", "Barnes", "Barnett", "Barrett", "Bates", "Bell", "Bennett", "Berg",
    "Berry", "Bird", "Bishop", "Black", "Blair", "Bowen", "Boyd", "Bradley", "Brooks", "Brown",
    "Bryant", "Burke", "Burns", "Butler", "Caldwell", "Campbell", "Cannon", "Carlson", "Carpenter",
    "Carr", "Carroll", "Carter", "Castillo", "Chambers", "Chapman", "Chavez", "Clark", "Cole",
    "Coleman", "Collins", "Conner", "Contreras", "Cook", "Cooper", "Copeland", "Cox", "Crawford",
    "Cruz", "Cunningham", "Curtis", "Daniels", "Davidson", "Davis", "Day", "Dean", "Diaz", "Dixon",
    "Douglas", "Duncan", "Dunn", "Edwards", "Elliott", "Ellis", "Estrada", "Evans", "Ferguson",
    "Fernandez", "Fields", "Fisher", "Fleming", "Fletcher", "Flores", "Ford", "Foster", "Fowler",
    "Fox", "Franklin", "Freeman", "Garcia", "Gardner", "Garrett", "Garza", "George", "Gibson",
    "Gilbert", "Gomez", "Gonzalez", "Goodman", "Gordon", "Graham", "Grant", "Gray", "Green",
    "Gregory", "Griffin", "Gutierrez", "Hall", "Hamilton", "Hansen", "Hanson", "Harper", "Harris",
    "Harrison", "Hart", "Harvey", "Hawkins", "Hayes", "Henderson", "Henry", "Hernandez", "Hicks",
    "Hill", "Hoffman", "Holland", "Holmes", "Howard", "Hudson", "Hughes", "Hunt", "Hunter",
    "Jackson", "Jacobs", "James", "Jenkins", "Jensen", "Johnson", "Johnston", "Jones", "Jordan",
    "Kelly", "Kennedy", "Kim", "King", "Knight", "Lambert", "Lane", "Lang", "Larson", "Lawrence",
    "Lee", "Lewis", "Little", "Long", "Lopez", "Lowe", "Lucas", "Lynch", "Marshall", "Martin",
    "Martinez", "Mason", "Matthews", "Mccoy", "Mccullough", "Mendoza", "Meyer", "Miller",
    "Mitchell", "Montgomery", "Moore", "Morales", "Morgan", "Morris", "Murphy", "Murray", "Myers",
    "Nelson", "Newman", "Nguyen", "Nichols", "Obrien", "Oliver", "Olson", "Ortiz", "Owens",
    "Palmer", "Parker", "Patel", "Patterson", "Payne", "Pearson", "Perez", "Perkins", "Perry",
    "Peters", "Peterson", "Phillips", "Pierce", "Pineda", "Porter", "Powell", "Price", "Ramirez",
    "Ramos", "Ray", "Reed", "Reid", "Reyes", "Reynolds", "Rice", "Richards", "Richardson", "Riley",
    "Rivera", "Roberts", "Robertson", "Robinson", "Rodriguez", "Rogers", "Romero", "Rose", "Ross",
    "Ruiz", "Russell", "Ryan", "Sanchez", "Sanders", "Savage", "Schmidt", "Scott", "Shaw",
    "Simmons", "Simpson", "Smith", "Snyder", "Spencer", "Stephens", "Stevens", "Stewart", "Stone",
    "Sullivan", "Taylor", "Thomas", "Thompson", "Torres", "Tucker", "Turner", "Vargas", "Vasquez",
    "Wagner", "Walker", "Wallace", "Walsh", "Ward", "Warren", "Washington", "Watson", "Weaver",
    "Webb", "Wells", "West", "Wheeler", "White", "Williams", "Willis", "Wilson", "Wood", "Wright",
    "Young",
];

/// Country and territory names, sorted.
#[rustfmt::skip]
pub(crate) const COUNTRIES: &[&str] = &[
    "Afghanistan", "Albania", "Algeria", "American Samoa", "Andorra", "Angola", "Anguilla",
    "Antarctica (the territory South of 60 deg S)", "Antigua and Barbuda", "Argentina", "Armenia",
    "Aruba", "Australia", "Austria", "Azerbaijan", "Bahamas", "Bahrain", "Bangladesh", "Barbados",
    "Belarus", "Belgium", "Belize", "Benin", "Bermuda", "Bhutan", "Bolivia",
    "Bosnia and Herzegovina", "Botswana", "Bouvet Island", "Brazil",
    "British Indian Ocean Territory", "British Virgin Islands", "Brunei Darussalam", "Bulgaria",
    "Burkina Faso", "Burundi", "Cambodia", "Cameroon", "Canada", "Cape Verde", "Cayman Islands",
    "Central African Republic", "Chad", "Chile", "China", "Christmas Island",
    "Cocos (Keeling) Islands", "Colombia", "Comoros", "Congo", "Cook Islands", "Costa Rica",
    "Cote d'Ivoire", "Croatia", "Cuba", "Cyprus", "Czech Republic", "Denmark", "Djibouti",
    "Dominica", "Dominican Republic", "Ecuador", "Egypt", "El Salvador", "Equatorial Guinea",
    "Eritrea", "Estonia", "Ethiopia", "Falkland Islands (Malvinas)", "Faroe Islands", "Fiji",
    "Finland", "France", "French Guiana", "French Polynesia", "French Southern Territories",
    "Gabon", "Gambia", "Georgia", "Germany", "Ghana", "Gibraltar", "Greece", "Greenland", "Grenada",
    "Guadeloupe", "Guam", "Guatemala", "Guernsey", "Guinea", "Guinea-Bissau", "Guyana", "Haiti",
    "Heard Island and McDonald Islands", "Holy See (Vatican City State)", "Honduras", "Hong Kong",
    "Hungary", "Iceland", "India", "Indonesia", "Iran", "Iraq", "Ireland", "Isle of Man", "Israel",
    "Italy", "Jamaica", "Japan", "Jersey", "Jordan", "Kazakhstan", "Kenya", "Kiribati", "Korea",
    "Kuwait", "Kyrgyz Republic", "Lao People's Democratic Republic", "Latvia", "Lebanon", "Lesotho",
    "Liberia", "Libyan Arab Jamahiriya", "Liechtenstein", "Lithuania", "Luxembourg", "Macao",
    "Madagascar", "Malawi", "Malaysia", "Maldives", "Mali", "Malta", "Marshall Islands",
    "Martinique", "Mauritania", "Mauritius", "Mayotte", "Mexico", "Micronesia", "Moldova", "Monaco",
    "Mongolia", "Montenegro", "Montserrat", "Morocco", "Mozambique", "Myanmar", "Namibia", "Nauru",
    "Nepal", "Netherlands", "Netherlands Antilles", "New Caledonia", "New Zealand", "Nicaragua",
    "Niger", "Nigeria", "Niue", "Norfolk Island", "North Macedonia", "Northern Mariana Islands",
    "Norway", "Oman", "Pakistan", "Palau", "Palestinian Territory", "Panama", "Papua New Guinea",
    "Paraguay", "Peru", "Philippines", "Pitcairn Islands", "Poland", "Portugal", "Puerto Rico",
    "Qatar", "Reunion", "Romania", "Russian Federation", "Rwanda", "Saint Barthelemy",
    "Saint Helena", "Saint Kitts and Nevis", "Saint Lucia", "Saint Martin",
    "Saint Pierre and Miquelon", "Saint Vincent and the Grenadines", "Samoa", "San Marino",
    "Sao Tome and Principe", "Saudi Arabia", "Senegal", "Serbia", "Seychelles", "Sierra Leone",
    "Singapore", "Slovakia (Slovak Republic)", "Slovenia", "Solomon Islands", "Somalia",
    "South Africa", "South Georgia and the South Sandwich Islands", "Spain", "Sri Lanka", "Sudan",
    "Suriname", "Svalbard & Jan Mayen Islands", "Swaziland", "Sweden", "Switzerland",
    "Syrian Arab Republic", "Taiwan", "Tajikistan", "Tanzania", "Thailand", "Timor-Leste", "Togo",
    "Tokelau", "Tonga", "Trinidad and Tobago", "Tunisia", "Turkey", "Turkmenistan",
    "Turks and Caicos Islands", "Tuvalu", "Uganda", "Ukraine", "United Arab Emirates",
    "United Kingdom", "United States Minor Outlying Islands", "United States Virgin Islands",
    "United States of America", "Uruguay", "Uzbekistan", "Vanuatu", "Venezuela", "Vietnam",
    "Wallis and Futuna", "Western Sahara", "Yemen", "Zambia", "Zimbabwe",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_sorted_unique(list: &[&str]) {
        for pair in list.windows(2) {
            assert!(pair[0] < pair[1], "{:?} must come before {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn quantile_lists_are_sorted_and_unique() {
        assert_sorted_unique(FIRST_NAMES);
        assert_sorted_unique(LAST_NAMES);
        assert_sorted_unique(COUNTRIES);
        assert_sorted_unique(&CATEGORIES.map(|category| category.name));
    }

    #[test]
    fn about_240_countries() {
        assert!((230..=250).contains(&COUNTRIES.len()), "{}", COUNTRIES.len());
    }
}
