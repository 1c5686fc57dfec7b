"""What every part of docqet-monitor shares: configuration, AWS access, discovery, fixed ids and errors."""
